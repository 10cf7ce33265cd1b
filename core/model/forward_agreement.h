// How far one forward of a model is from another on the same ids — a bf16 GPU run from the CPU's fp32 reference, say:
// the logits' relative error, top-1 agreement with the reference's margin at each flip, and per layer and head how
// much of the mask they share, with the rows whose kept set differs and how many of those cut on a tie.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/formats/tensor.h"
#include "core/mask/cut_ties.h"

namespace dmascope {

// ‖test − reference‖ / ‖reference‖ over all elements (Frobenius); +∞ when test holds a non-finite value, so that a
// NaN never reads as agreement. Both [.., V] fp32 tensors of the same element count (else an Error naming them).
double logits_relative_error(const Tensor& test, const Tensor& reference);

// How the error spreads over the rows: each row's ‖test − reference‖ / ‖reference‖ (a non-finite row counts as +∞).
// A whole-tensor error made by a few rows shows as a small median and a large worst row.
struct RowErrors {
  double whole = 0.0;  // over all rows: logits_relative_error
  double median = 0.0, p99 = 0.0, worst = 0.0;
  std::int64_t worst_row = 0;
  std::vector<double> by_quarter;  // the relative error of each quarter of the rows, in order (from 4 rows on)
};
RowErrors row_relative_errors(const Tensor& test, const Tensor& reference);

// A row whose top-1 token differs. The reference's margin between its own top-1 and the test's top-1, next to the
// row's RMS logit difference: a flip whose margin is a few RMS differences or less is a near-tie that any rounding of
// the hidden states may turn; a large ratio points at a fault.
struct TopOneFlip {
  std::int64_t row = 0;
  std::int64_t token = 0, reference_token = 0;
  double reference_margin = 0.0;  // reference[reference_token] − reference[token] ≥ 0
  double rms_difference = 0.0;    // sqrt(mean over the vocabulary of (test − reference)²)
  double margin_in_rms() const { return rms_difference > 0.0 ? reference_margin / rms_difference : 0.0; }
};

struct TopOneAgreement {
  std::int64_t rows = 0;
  std::vector<TopOneFlip> flips;  // ascending rows
  double share() const { return rows > 0 ? 1.0 - static_cast<double>(flips.size()) / static_cast<double>(rows) : 1.0; }
};

// Logits [1, L, V] (or [L, V]) of both; ties within a row go to the lower token id in both.
TopOneAgreement top_one_agreement(const Tensor& test, const Tensor& reference);

// "3 flips: row 13 margin 0.00819 = 0.86 RMS; ..." — the first `most` flips, then how many more.
std::string describe_flips(const TopOneAgreement& agreement, std::size_t most = 8);

// Two DMA masks of one (layer, bias head) over the same L keys, from their death indices.
struct MaskAgreement {
  double kept_share = 1.0;  // 1 − ½·(entries kept by one side only) / (entries the reference keeps): a swap costs one
  std::int64_t rows = 0;
  std::int64_t rows_differing = 0;   // rows whose kept set differs
  std::int64_t differing_on_tie = 0; // of them, rows whose cut falls on a β tie in the test's or the reference's β
};

// test_ties, reference_ties: dma_cut_ties of each side's β (the rows where the tie rule, not β, decides).
MaskAgreement mask_agreement(std::span<const std::int32_t> test_death, std::span<const std::int32_t> reference_death,
                             const CutTies& test_ties, const CutTies& reference_ties);

}  // namespace dmascope
