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

Precision timing_precision_from_name(std::string_view name) {
  if (name == "bf16") return Precision::BF16;
  if (name == "fp16") return Precision::F16;
  fail("unknown dtype '{}' (expected bf16 or fp16)", name);
}

Precision model_precision_from_name(std::string_view name) {
  if (name == "bf16") return Precision::BF16;
  if (name == "fp32") return Precision::F32;
  fail("unknown forward precision '{}' (expected bf16 or fp32)", name);
}

}  // namespace dmascope::engine
