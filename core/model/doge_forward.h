// The Doge forward pass on the CPU in float32 (batch 1), as transformers 5.17 computes it with eager attention, and
// the captures the app draws and `dmascope-cli dump` writes: per layer q/k after RoPE, v, dt, β, the compact DMA mask,
// attention probabilities (on request), context, attention/MLP outputs, the layer output.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "core/attention/attention_cpu.h"
#include "core/attention/attention_kept_sets.h"
#include "core/mask/dma_mask.h"
#include "core/model/doge_weights.h"
#include "core/formats/tensor.h"

namespace dmascope {

enum class BiasFormula {
  Exp,     // β = exp(A·softplus(dt)): transformers, small-doge and every published checkpoint
  Linear,  // β = A·softplus(dt): flash-sparse-attn's example model
};

// The attention step's mask seam: called once per layer with that layer's attention inputs (q and k after RoPE, v,
// β; heads first, batch 1, the problem's death indices DMA's at the forward's w), it returns one kept set per query
// head, and the layer attends over those sets (core/attention/attention_kept_sets.h) instead of DMA's mask. The
// captures still hold DMA's death indices and tile maps (what the model's own mask would have been).
using KeptSetsOfLayer = std::function<std::vector<KeptKeySets>(std::int64_t layer, const AttentionProblem& problem)>;

struct ForwardOptions {
  std::int64_t window = 0;  // DMA budget w; 0 = the config's keep_window_size
  MaskVariant mask_variant = MaskVariant::PerRowTopK;
  BiasFormula bias_formula = BiasFormula::Exp;
  TileShape tiles;           // tile geometry of the CPU kernel and of the reported tile maps
  bool capture = true;       // keep per-layer tensors (else only logits)
  bool capture_probs = false;
  bool compute_logits = true;  // false: no lm_head (callers that read only the captures, e.g. DAM's calibration)
  std::int64_t probs_max_bytes = std::int64_t{1} << 30;  // refuse to materialize probabilities beyond this
  std::function<void(std::int64_t layers_done, std::int64_t layers_total)> on_progress;
  const std::atomic<bool>* cancel = nullptr;  // checked between layers; a cancelled forward throws ForwardCancelled
  KeptSetsOfLayer kept_sets;  // set: replaces DMA's mask in every layer's attention (see KeptSetsOfLayer)
  // Set: called with each layer's β ([bias heads, L], just computed) to overwrite it before the mask and the attention
  // use it — to run the fp32 arithmetic on another forward's β (the bf16 path's, which bf16 rounding moves by up to
  // 2^-9 of |β|: at |β| in the thousands that alone reorders the scores).
  std::function<void(std::int64_t layer, std::span<float> beta)> bias_override;
};

struct ForwardCancelled : std::exception {
  const char* what() const noexcept override { return "forward pass cancelled"; }
};

struct LayerCapture {
  Tensor q_rope;       // [1, H, L, d]
  Tensor k_rope;       // [1, Hkv, L, d]
  Tensor v;            // [1, L, Hkv·d]
  Tensor dt;           // [1, L, Hb]
  Tensor dyn_bias;     // [1, Hb, L]  β
  Tensor death;        // [1, Hb, L]  I32: keep(i, j) ⇔ j ≤ i < death[j]
  Tensor attn_probs;   // [1, H, L, L] when capture_probs
  Tensor context;      // [1, L, H·d] attention output before o_proj
  Tensor attn_out;     // [1, L, D]
  Tensor mlp_out;      // [1, L, D]
  Tensor output;       // [1, L, D]
  std::vector<TileMap> tile_maps;  // per bias head
  AttentionWork work;
};

struct ForwardResult {
  std::int64_t window = 0;  // the w that was used
  Tensor embed;             // [1, L, D]
  std::vector<LayerCapture> layers;
  Tensor final_norm;        // [1, L, D]
  Tensor logits;            // [1, L, V]
  double elapsed_ms = 0.0;
  double attention_ms = 0.0;
};

ForwardResult doge_forward(const DogeModel& model, std::span<const std::int32_t> ids, const ForwardOptions& options);

// β of one layer for the given ids, computing only what it needs (embedding, that layer's input: the layers before
// it run in full). [Hb, L]. Cheap for layer 0 at any length: the bias of a real model for benchmarks.
std::vector<float> doge_layer_bias(const DogeModel& model, std::span<const std::int32_t> ids, std::int64_t layer);

// β for one layer from its values: v [L, Hkv·d] → dt [L, Hb] → β [Hb, L]. Exposed for tests and the kernels' twins.
void doge_dynamic_bias(const DogeLayerWeights& layer, const float* v, std::int64_t length, std::int64_t value_width,
                       std::int64_t bias_heads, BiasFormula formula, float* dt, float* beta);

}  // namespace dmascope
