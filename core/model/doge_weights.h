// A Doge checkpoint's tensors, checked against the config and converted to float32 for the CPU forward pass.
//
// Two layouts exist (see research/dma-spec.md §3.2, §3.6):
//   Transformers: q_norm/k_norm present, A [Hkv] and dt_proj [Hkv, Hkv·d] — one bias (and mask) per kv head,
//                 shared by the query heads of its group (transformers 5.x, SmallDoge/Doge-20M).
//   SmallDoge:    no q/k norm, A [H] and dt_proj [H, Hkv·d] — one bias per query head (older hub uploads).
// Detection is by names and shapes; anything else is refused with what was expected and what was found.
// Tensors are read into owned memory (not borrowed from the mapping, which faults with SIGBUS once the file shrinks);
// bf16/f16 are upcast once, on load.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/model/doge_config.h"
#include "core/formats/tensor.h"

namespace dmascope {

class CheckpointFiles;

enum class WeightLayout { Transformers, SmallDoge };
std::string_view weight_layout_name(WeightLayout layout);

struct DogeLayerWeights {
  Tensor input_norm;                            // [D]
  Tensor q_proj, k_proj, v_proj, o_proj;        // [H·d, D], [Hkv·d, D], [Hkv·d, D], [D, H·d]
  Tensor q_proj_bias, k_proj_bias, v_proj_bias, o_proj_bias, dt_proj_bias;  // only with attention_bias
  Tensor q_norm, k_norm;                        // [d]; Transformers layout only
  Tensor A;                                     // [bias heads]
  Tensor dt_proj;                               // [bias heads, Hkv·d]
  Tensor input_residual;                        // [D]
  Tensor post_norm;                             // [D]
  Tensor gate_proj, up_proj, down_proj;         // [I, D], [I, D], [D, I]
  Tensor gate_proj_bias, up_proj_bias, down_proj_bias;  // only with mlp_bias
  Tensor router_gate, down_embed, up_embed;     // CDMoE: [2K, D], [E, D], [E, D]
  Tensor post_residual;                         // [D]
};

struct DogeWeights {
  WeightLayout layout = WeightLayout::Transformers;
  std::int64_t bias_heads = 0;  // Hkv (Transformers) or H (SmallDoge)
  Tensor embed;                 // [V, D]
  Tensor final_norm;            // [D]
  Tensor lm_head;               // [V, D]; the embedding itself when tied
  bool lm_head_tied = false;
  std::vector<DogeLayerWeights> layers;
  std::int64_t parameter_count = 0;          // distinct parameters (a tied head counted once)
  std::vector<std::string> stored_dtypes;    // dtypes found in the files, e.g. {"BF16"}
};

// Reads and validates every tensor. Errors name the file and tensor: missing, unexpected shape, NaN/Inf values
// (with counts), unknown layout.
DogeWeights load_doge_weights(const CheckpointFiles& files, const DogeConfig& config);

// A whole model folder: config.json, the safetensors file(s), and whether a tokenizer.json is there.
struct DogeModel {
  std::filesystem::path dir;
  DogeConfig config;
  DogeWeights weights;
  bool has_tokenizer = false;

  static DogeModel load(const std::filesystem::path& dir);
};

}  // namespace dmascope
