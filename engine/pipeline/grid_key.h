// The key of a reduced grid (what it was reduced from and for which view): when it changes, the grid is reduced and
// uploaded again. Its own header because the logits worker (logit_grid_job.h) and AppState both hold keys.
#pragma once

#include <cstdint>

namespace dmascope::engine {

struct GridKey {
  std::uint64_t generation = 0;
  std::int64_t layer = -1, head = -1;
  int quantity = 0, reduce = 0;
  double row_begin = 0, row_end = 0, col_begin = 0, col_end = 0;
  std::int64_t width = 0, height = 0;
  bool operator==(const GridKey&) const = default;
};

}  // namespace dmascope::engine
