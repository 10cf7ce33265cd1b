#include "core/compute/backend_kind.h"

#include "core/base/error.h"

namespace dmascope {

std::string_view backend_name(Backend backend) { return backend == Backend::Cpu ? "cpu" : "cuda"; }

Backend backend_from_name(std::string_view name) {
  if (name == "cpu") return Backend::Cpu;
  if (name == "cuda") return Backend::Cuda;
  fail("unknown backend '{}' (expected cpu or cuda)", name);
}

}  // namespace dmascope
