// A strategy's kept sets, produced a chunk of rows at a time (never an L×L buffer): rows [row_begin, row_end) as
// per-row ascending key lists (CSR). tile_gather turns one chunk into what a generic gather kernel consumes: the
// union of the chunk's keys and a per-row bitmask over that union (the seam for a GPU twin).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/lab/lab_head.h"
#include "core/lab/strategy.h"

namespace dmascope {

struct KeptRows {
  std::int64_t row_begin = 0;
  std::vector<std::int64_t> offsets{0};  // rows() + 1 entries: row i's keys are keys[offsets[i - row_begin] ..)
  std::vector<std::int32_t> keys;        // ascending within each row, all ≤ the row
  std::int64_t rows() const { return static_cast<std::int64_t>(offsets.size()) - 1; }
  std::int64_t row_end() const { return row_begin + rows(); }
  // Row i (absolute, row_begin ≤ i < row_end()).
  std::span<const std::int32_t> row(std::int64_t i) const {
    const auto r = static_cast<std::size_t>(i - row_begin);
    return {keys.data() + offsets[r], static_cast<std::size_t>(offsets[r + 1] - offsets[r])};
  }
};

// Builds kept sets of one head. Holds what strategies precompute per head (nsa's mean-pooled block keys).
class KeptSetBuilder {
 public:
  explicit KeptSetBuilder(const LabHead& head);  // validates the head; the head's spans must outlive the builder
  // Rows [row_begin, row_end) of `strategy`. `scores` (optional, for oracle): [row_end − row_begin, scores_stride]
  // with s_ij = q_i·k_j·scale + β_j for j ≤ i, as the metrics pass already computed them; computed here when empty.
  // Error when the strategy's input is missing (dam without a calibrated mask).
  KeptRows rows(Strategy strategy, std::int64_t row_begin, std::int64_t row_end, std::span<const float> scores = {},
                std::int64_t scores_stride = 0) const;
  const LabHead& head() const { return head_; }

 private:
  LabHead head_;
  std::int64_t nsa_block_ = 0;           // min(kNsaBlockKeys, w)
  std::vector<float> nsa_pooled_keys_;   // [⌈L / block⌉, d] mean of each block's keys
};

// One chunk (a query tile) as a gather kernel sees it.
struct TileGather {
  std::int64_t row_begin = 0, row_end = 0;
  std::vector<std::int32_t> keys;     // the union of the rows' kept keys, ascending
  std::int64_t words_per_row = 0;     // ⌈keys.size() / 64⌉
  std::vector<std::uint64_t> row_bits;  // [rows, words_per_row]: bit s of row r set ⇔ row r keeps keys[s]
  bool keeps(std::int64_t row, std::int64_t slot) const {
    return (row_bits[static_cast<std::size_t>((row - row_begin) * words_per_row + slot / 64)] >> (slot % 64)) & 1u;
  }
};
TileGather tile_gather(const KeptRows& rows);

}  // namespace dmascope
