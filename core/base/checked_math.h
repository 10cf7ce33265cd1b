// Integer arithmetic on sizes that come from files and arguments: a product of two valid-looking numbers can wrap
// (num_attention_heads × head_dim = 2^32 × 2^32 = 0 in 64 bits) and then pass every later comparison. Sizes are
// multiplied through these helpers so that a wrap is either an error naming its operands or a saturated value that
// can only be too large, never too small.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>

namespace dmascope {

// a × b, or nothing when the product does not fit an int64.
inline std::optional<std::int64_t> checked_mul(std::int64_t a, std::int64_t b) {
  std::int64_t product;
  if (__builtin_mul_overflow(a, b, &product)) return std::nullopt;
  return product;
}

// For non-negative sizes: a × b and a + b, stuck at the int64 maximum instead of wrapping. A saturated estimate
// compares larger than any memory there is, which is the answer the caller needs.
inline std::int64_t saturating_mul(std::int64_t a, std::int64_t b) {
  return checked_mul(a, b).value_or(std::numeric_limits<std::int64_t>::max());
}

inline std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  std::int64_t sum;
  return __builtin_add_overflow(a, b, &sum) ? std::numeric_limits<std::int64_t>::max() : sum;
}

}  // namespace dmascope
