#include "engine/pipeline/pipeline_settings.h"

#include "core/base/error.h"

namespace dmascope::engine {

std::string_view source_kind_name(SourceKind kind) {
  switch (kind) {
    case SourceKind::Toy: return "toy";
    case SourceKind::Text: return "text";
    case SourceKind::Ids: return "ids";
    case SourceKind::Task: return "task";
  }
  return "?";
}

SourceKind source_kind_from_name(std::string_view name) {
  for (SourceKind kind : {SourceKind::Toy, SourceKind::Text, SourceKind::Ids, SourceKind::Task})
    if (source_kind_name(kind) == name) return kind;
  fail("unknown source '{}' (expected toy, text, ids or task)", name);
}

std::string_view backend_name(Backend backend) { return backend == Backend::Cpu ? "cpu" : "cuda"; }

Backend backend_from_name(std::string_view name) {
  if (name == "cpu") return Backend::Cpu;
  if (name == "cuda") return Backend::Cuda;
  fail("unknown backend '{}' (expected cpu or cuda)", name);
}

}  // namespace dmascope::engine
