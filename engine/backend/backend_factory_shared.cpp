#include "engine/backend/backend_factory.h"

namespace dmascope::engine {

const ComputeBackend& compute_backend(Backend kind) {
  static const std::unique_ptr<ComputeBackend> cpu = make_backend(Backend::Cpu);
  static const std::unique_ptr<ComputeBackend> cuda = make_backend(Backend::Cuda);
  return kind == Backend::Cuda ? *cuda : *cpu;
}

}  // namespace dmascope::engine
