#include "core/compute/precision.h"

#include "core/base/error.h"

namespace dmascope {

std::string_view precision_name(Precision precision) {
  switch (precision) {
    case Precision::F32: return "fp32";
    case Precision::BF16: return "bf16";
    case Precision::F16: return "fp16";
  }
  return "?";
}

Precision precision_from_name(std::string_view name) {
  for (Precision precision : {Precision::F32, Precision::BF16, Precision::F16})
    if (precision_name(precision) == name) return precision;
  fail("unknown precision '{}' (expected fp32, bf16 or fp16)", name);
}

}  // namespace dmascope
