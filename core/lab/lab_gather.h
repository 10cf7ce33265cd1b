// Sparse attention over an arbitrary kept set in the form a gather kernel consumes (core/lab/kept_rows.h's
// TileGather: one query tile's key list and a per-row bitmask over it): per row i, O_S,i = Σ_{j∈S_i} softmax(s_ij) v_j
// with s_ij = q_i·k_j·scale + β_j restricted to S_i. The CPU twin of kernels/lab_gather.cu; fp32 products, the
// softmax stabilised by the row's kept maximum and summed in fp64.
#pragma once

#include <vector>

#include "core/lab/kept_rows.h"
#include "core/lab/lab_head.h"

namespace dmascope {

// [tile.row_end − tile.row_begin, d] row-major; a row that keeps nothing outputs zeros. Error when the tile's rows or
// keys lie outside the head.
std::vector<float> gather_attention(const LabHead& head, const TileGather& tile);

}  // namespace dmascope
