#include "core/model/forward_memory.h"

#include <algorithm>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/base/checked_math.h"
#include "core/base/error.h"
#include "core/base/parallel.h"

namespace dmascope {

namespace {

constexpr std::int64_t kFloatBytes = 4;

// a × b × c × … bytes, saturating.
std::int64_t product(std::initializer_list<std::int64_t> factors) {
  std::int64_t result = 1;
  for (std::int64_t factor : factors) result = saturating_mul(result, std::max<std::int64_t>(factor, 0));
  return result;
}

std::int64_t sum(std::initializer_list<std::int64_t> terms) {
  std::int64_t result = 0;
  for (std::int64_t term : terms) result = saturating_add(result, term);
  return result;
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return b > 0 ? a / b + (a % b != 0) : 0; }

std::int64_t tile_map_bytes(const DogeConfig& config, std::int64_t bias_heads, std::int64_t tokens, TileShape tiles) {
  return product({config.num_hidden_layers, bias_heads, ceil_div(tokens, tiles.rows), ceil_div(tokens, tiles.cols)});
}

// 4-byte values per token of CDMoE's routed experts: the router's 2K logits, then num_experts_per_tok expert ids and
// as many routing weights. 0 for a dense model.
std::int64_t cdmoe_row_floats(const DogeConfig& config) {
  return config.is_moe ? sum({product({2, config.expert_keys()}), product({2, config.num_experts_per_tok})}) : 0;
}

}  // namespace

std::int64_t ForwardMemoryEstimate::total_bytes() const {
  return sum({token_id_bytes, activation_bytes, capture_bytes, tile_map_bytes, probability_bytes,
              attention_scratch_bytes, logit_bytes, weight_bytes, output_bytes});
}

std::string format_bytes(std::int64_t bytes) {
  if (bytes == std::numeric_limits<std::int64_t>::max()) return "more than 9.2 EB";
  const double value = static_cast<double>(bytes);
  if (value < 1e3) return fmt::format("{} B", bytes);
  if (value < 1e6) return fmt::format("{:.1f} kB", value / 1e3);
  if (value < 1e9) return fmt::format("{:.1f} MB", value / 1e6);
  if (value < 1e12) return fmt::format("{:.1f} GB", value / 1e9);
  if (value < 1e15) return fmt::format("{:.1f} TB", value / 1e12);
  return fmt::format("{:.1f} PB", value / 1e15);
}

std::string ForwardMemoryEstimate::describe() const {
  std::string terms;
  for (auto [name, bytes] : {std::pair{"activations", activation_bytes}, {"captures", capture_bytes},
                             {"tile maps", tile_map_bytes}, {"attention probabilities", probability_bytes},
                             {"attention scratch", attention_scratch_bytes}, {"logits", logit_bytes},
                             {"token ids", token_id_bytes}, {"weights", weight_bytes}, {"outputs", output_bytes}})
    if (bytes > 0) terms += fmt::format("{}{} {}", terms.empty() ? "" : ", ", name, format_bytes(bytes));
  return fmt::format("{} ({})", format_bytes(total_bytes()), terms);
}

ForwardMemoryEstimate estimate_cpu_forward_memory(const DogeConfig& config, std::int64_t bias_heads,
                                                  std::int64_t tokens, const ForwardOptions& options,
                                                  std::int64_t workers) {
  const std::int64_t L = tokens, D = config.hidden_size, H = config.num_attention_heads;
  const std::int64_t Hkv = config.num_key_value_heads, d = config.head_dim, I = config.intermediate_size;
  const std::int64_t V = config.vocab_size, Hb = bias_heads, layers = config.num_hidden_layers;
  const std::int64_t window = options.window > 0 ? options.window : config.keep_window_size;
  ForwardMemoryEstimate estimate;
  estimate.token_id_bytes = product({L, 4});
  // doge_forward's buffers within a layer: x, h, the layer input kept for locating a NaN, attn_out, mlp_out [L, D];
  // q and its heads-first copy, context and its heads-first copy [L, H·d]; k, v and their copies [L, Hkv·d];
  // gate and up [L, I]; dt, β, death [L, Hb]; CDMoE's router [L, 2K] and its expert ids and weights [L, top].
  estimate.activation_bytes =
      product({kFloatBytes, L,
               sum({product({5, D}), product({4, H, d}), product({4, Hkv, d}), product({2, I}), product({3, Hb}),
                    cdmoe_row_floats(config)})});
  if (options.capture) {
    // Per layer: q_rope, context [L, H·d]; k_rope, v [L, Hkv·d]; dt, β, death [L, Hb]; attn_out, mlp_out, output
    // [L, D]. Once: embed and final_norm [L, D].
    const std::int64_t per_layer =
        product({kFloatBytes, L, sum({product({2, H, d}), product({2, Hkv, d}), product({3, Hb}), product({3, D})})});
    estimate.capture_bytes = sum({product({layers, per_layer}), product({kFloatBytes, 2, L, D})});
    estimate.tile_map_bytes = tile_map_bytes(config, Hb, L, options.tiles);
    if (options.capture_probs) estimate.probability_bytes = product({kFloatBytes, layers, H, L, L});
  }
  // attention_tiled, per worker: at most min(L, w + tile rows) gathered keys n: their indices, keys and values
  // [n, d], β [n], the tile's scores [rows, n] and the row weights [n].
  const std::int64_t rows = std::min(std::max<std::int64_t>(options.tiles.rows, 1), std::max<std::int64_t>(L, 1));
  const std::int64_t gathered = std::min(L, sum({window, rows}));
  const std::int64_t per_worker = product({kFloatBytes, sum({product({2, gathered, d}), product({rows, gathered}),
                                                             product({3, gathered})})});
  const std::int64_t busy_workers = std::min(std::max<std::int64_t>(workers, 1), product({Hb, ceil_div(L, rows)}));
  estimate.attention_scratch_bytes = product({busy_workers, per_worker});
  estimate.logit_bytes = product({kFloatBytes, 2, L, V});  // the projection's buffer and the result tensor
  return estimate;
}

ForwardMemoryEstimate estimate_gpu_forward_device_memory(const DogeConfig& config, std::int64_t bias_heads,
                                                         std::int64_t tokens, const ForwardOptions& options,
                                                         std::int64_t logit_rows, bool tile_maps_on_device,
                                                         std::int64_t mask_workspace_bytes) {
  const std::int64_t L = tokens, D = config.hidden_size, H = config.num_attention_heads;
  const std::int64_t Hkv = config.num_key_value_heads, d = config.head_dim, I = config.intermediate_size;
  const std::int64_t Hb = bias_heads;
  const std::int64_t window = std::min(L, options.window > 0 ? options.window : config.keep_window_size);
  constexpr std::int64_t kGatherTileRows = 64;  // the gather lists' query tile (kernels/doge_forward_cuda.cpp)
  ForwardMemoryEstimate estimate;
  estimate.token_id_bytes = product({L, 4});
  // x, h, attn_out, mlp_out [L, D]; q, q_rope, context [L, H·d]; k, v, k_rope [L, Hkv·d]; gate, up [L, I];
  // dt, β, death [L, Hb]; CDMoE's router, expert ids and weights; the gather lists [Hb, q tiles, min(L, w + 64)] and
  // their counts; the mask build's scratch.
  const std::int64_t q_tiles = ceil_div(L, kGatherTileRows);
  estimate.activation_bytes =
      sum({product({kFloatBytes, L,
                    sum({product({4, D}), product({3, H, d}), product({3, Hkv, d}), product({2, I}), product({3, Hb}),
                         cdmoe_row_floats(config)})}),
           product({4, Hb, q_tiles, std::min(L, sum({window, kGatherTileRows}))}), product({4, Hb, q_tiles}),
           std::max<std::int64_t>(mask_workspace_bytes, 0)});
  // The device holds one layer's tile maps at a time.
  if (tile_maps_on_device)
    estimate.tile_map_bytes = product({Hb, ceil_div(L, options.tiles.rows), ceil_div(L, options.tiles.cols)});
  estimate.logit_bytes = product({kFloatBytes, logit_rows, config.vocab_size});
  return estimate;
}

std::optional<std::int64_t> available_host_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream fields(line.substr(13));
    std::int64_t kilobytes = 0;
    std::string unit;
    if (fields >> kilobytes >> unit && unit == "kB" && kilobytes >= 0) return saturating_mul(kilobytes, 1024);
    return std::nullopt;
  }
  return std::nullopt;
}

void require_memory(const ForwardMemoryEstimate& estimate, std::int64_t available_bytes, std::string_view what,
                    std::string_view where_available) {
  if (estimate.total_bytes() <= available_bytes) return;
  fail("{}: needs an estimated {}, but only {} is available ({})", what, estimate.describe(),
       format_bytes(available_bytes), where_available);
}

void require_cpu_forward_memory(const DogeModel& model, std::int64_t tokens, const ForwardOptions& options,
                                std::int64_t output_bytes) {
  // Positions and death indices are int32 (dma_mask.h), as in the kernels.
  if (tokens > std::numeric_limits<std::int32_t>::max())
    fail("forward: {} tokens are more than the {} positions a mask can index", tokens,
         std::numeric_limits<std::int32_t>::max());
  const auto available = available_host_memory_bytes();
  if (!available) return;
  ForwardMemoryEstimate estimate =
      estimate_cpu_forward_memory(model.config, model.weights.bias_heads, tokens, options, worker_count());
  estimate.output_bytes = output_bytes;
  require_memory(estimate,
                 *available,
                 fmt::format("forward of {} tokens (tiles {}x{}{}{})", tokens, options.tiles.rows, options.tiles.cols,
                             options.capture ? ", captures" : "", options.capture_probs ? ", probabilities" : ""),
                 "MemAvailable in /proc/meminfo");
}

}  // namespace dmascope
