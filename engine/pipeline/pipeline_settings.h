// What the pipeline computes from: the source (a model folder and the token ids: a toy sequence, a text or explicit
// ids) and the compute settings. Two equal settings give the same result, so results carry their settings and a view
// can tell when what it shows is stale. The layer/head being looked at is view state (view_state.h), not a setting:
// every layer and head is computed at once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/compute/backend_kind.h"
#include "core/compute/precision.h"
#include "core/mask/dma_mask.h"
#include "core/toy/toy_sequences.h"
#include "core/toy/toy_tasks.h"

namespace dmascope::engine {

// Task: a sequence in the format the bundled toy models were trained on (core/toy/toy_tasks.h), whose answers the app
// scores live; it needs a model of the toy vocabulary.
enum class SourceKind { Toy, Text, Ids, Task };
std::string_view source_kind_name(SourceKind kind);  // "toy" | "text" | "ids" | "task"
SourceKind source_kind_from_name(std::string_view name);

// The backend (core/compute/backend_kind.h: CPU always; CUDA only in a build with the kernels and on a machine with a
// GPU) runs the forward pass (fp32 on the CPU; bf16 or fp32 on CUDA, model_precision; the CUDA one falls back to the
// CPU with the reason in the status bar), reduces the heatmap's views, and is what the Timing view measures.

// The CUDA timing's precision as the Source panel and session files name it: "bf16" or "fp16" (not fp32, which the
// CUDA attention kernels do not take). Throws Error naming the text.
Precision timing_precision_from_name(std::string_view name);
// The CUDA forward's precision as the Source panel and session files name it: "bf16" (the default: the model as
// transformers runs it in bf16 on the GPU, on the timed kernels) or "fp32" (the exact reference). Throws Error.
Precision model_precision_from_name(std::string_view name);

struct PipelineSettings {
  std::string model_dir;
  SourceKind source = SourceKind::Toy;
  ToySequenceKind toy = ToySequenceKind::Induction;
  ToyTask task = ToyTask::Mqar;  // SourceKind::Task
  std::int64_t length = 128;  // toy sequences and tasks
  std::uint64_t seed = 1;     // toy sequences and tasks (a task example is make_toy_example(task, length, seed, 0))
  std::string text;           // SourceKind::Text, through the model's tokenizer (with its special tokens)
  std::vector<std::int32_t> ids;  // SourceKind::Ids
  std::int64_t window = 0;    // DMA budget w; 0 = the model config's keep_window_size
  MaskVariant mask_variant = MaskVariant::PerRowTopK;
  std::int64_t tile_size = 16;  // square tiles of the reported tile maps and the timed CPU kernel
  Backend backend = Backend::Cpu;
  Precision timing_dtype = Precision::BF16;  // what the CUDA timing runs in (bf16 | fp16); the CPU kernels are fp32
  Precision model_precision = Precision::BF16;  // the CUDA forward's (bf16 | fp32); the CPU forward is fp32

  bool operator==(const PipelineSettings&) const = default;
};

// Limits the Source panel and session files enforce (the core itself accepts more).
inline constexpr std::int64_t kMinLength = 1, kMaxLength = 131072;
inline constexpr std::int64_t kMinTileSize = 4, kMaxTileSize = 256;
inline constexpr std::int64_t kMinTaskLength = 64;  // a trained task needs room for a few pairs and their queries

}  // namespace dmascope::engine
