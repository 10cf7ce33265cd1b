// The work of one pipeline run, free of threads: load (or reuse) the model, resolve the token ids, run the forward
// pass with captures (the CPU's, or with the CUDA backend the GPU's), and reduce every head's mask to an overview
// thumbnail. Pipeline (pipeline.h) runs this on its worker thread; tests and tools can call it directly.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include "engine/pipeline/pipeline_result.h"

namespace dmascope::engine {

enum class ComputePhase { Idle, LoadingModel, Tokenizing, Forward, Summaries, Timing };
std::string_view compute_phase_label(ComputePhase phase);  // "loading model", ...

// Written by the worker, read by the UI every frame.
struct ComputeProgress {
  std::atomic<ComputePhase> phase{ComputePhase::Idle};
  std::atomic<std::int64_t> steps_done{0}, steps_total{0};
};

// The GPU forward downloads every row's logits for a task-format sequence up to this many floats (1 GiB).
inline constexpr std::int64_t kAnswerLogitsMaxFloats = std::int64_t{1} << 28;

// Keeps the last model so that changing only the sequence or the window does not reload it. Used by one thread at a
// time (the pipeline's worker).
class ModelCache {
 public:
  std::shared_ptr<const LoadedModel> get(const std::filesystem::path& dir);

  // The CUDA backend's forward holding the current model's weights on the device: made on the first CUDA run, reused
  // by the next ones, dropped with the model.
  std::shared_ptr<ModelForward> gpu_forward;

 private:
  std::shared_ptr<const LoadedModel> model_;
};

// The token ids the settings ask for (toy generator, tokenizer or explicit ids), checked against the vocabulary.
std::vector<std::int32_t> resolve_ids(const PipelineSettings& settings, const LoadedModel& model);

// Throws Error (bad input) or ForwardCancelled (cancel was set).
std::shared_ptr<PipelineResult> compute_pipeline_result(const PipelineSettings& settings, ModelCache& models,
                                                        ComputeProgress& progress, const std::atomic<bool>& cancel);

}  // namespace dmascope::engine
