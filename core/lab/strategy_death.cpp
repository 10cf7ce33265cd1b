#include "core/lab/strategy_death.h"

#include <algorithm>
#include <limits>

#include "core/base/error.h"

namespace dmascope {

bool strategy_has_death_indices(Strategy strategy) {
  return strategy == Strategy::Dma || strategy == Strategy::Shared || strategy == Strategy::Swa ||
         strategy == Strategy::Sinks;
}

std::vector<std::int32_t> positional_death_indices(Strategy strategy, std::int64_t length, std::int64_t window) {
  if (strategy != Strategy::Swa && strategy != Strategy::Sinks)
    fail("positional death indices: strategy {} is not positional (only swa and sinks are)", strategy_name(strategy));
  if (window < 1) fail("positional death indices: the window must be at least 1, got {}", window);
  if (length < 0 || length > std::numeric_limits<std::int32_t>::max())
    fail("positional death indices: {} keys do not fit int32 indices", length);
  // Deaths past L mean "kept to the last row"; clamp so that j + w cannot overflow int32.
  const std::int64_t sinks = strategy == Strategy::Sinks ? std::min(kSinkKeys, window - 1) : 0;
  std::vector<std::int32_t> death(static_cast<std::size_t>(length));
  for (std::int64_t j = 0; j < length; ++j)
    death[static_cast<std::size_t>(j)] =
        static_cast<std::int32_t>(j < sinks ? length : std::min(length, j + window - sinks));
  return death;
}

}  // namespace dmascope
