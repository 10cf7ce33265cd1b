// Where the logits view reads from: one query head's q and its kv head's k after RoPE, its bias head's β and death
// indices, all views into a result's captures (core/view/view_reduce.h, LogitSource). A forward may not have kept q/k
// (the GPU forward can skip them at some lengths): then there is no source, and a sentence that says why.
#pragma once

#include <optional>
#include <string>

#include "engine/pipeline/pipeline_result.h"
#include "core/view/view_reduce.h"

namespace dmascope::engine {

// The spans point into `result`, which must outlive the source. `why_not` gets the reason when there is none.
std::optional<LogitSource> logit_source(const PipelineResult& result, std::int64_t layer, std::int64_t head,
                                        std::string* why_not);

}  // namespace dmascope::engine
