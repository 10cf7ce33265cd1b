// `dmascope-cli info DIR`: what a Doge model folder holds.
#include <fmt/core.h>

#include <memory>

#include "app/cli/cli_args.h"
#include "app/cli/commands.h"
#include "core/formats/checkpoint_files.h"
#include "core/model/doge_weights.h"
#include "core/base/error.h"
#include "core/model/rope.h"

namespace dmascope::cli {

namespace {

int run_info(const std::string& model_dir) {
  const DogeModel model = DogeModel::load(model_dir);
  const DogeConfig& c = model.config;
  const DogeWeights& w = model.weights;
  fmt::print("model             {}\n", model.dir.string());
  fmt::print("layout            {}\n", weight_layout_name(w.layout));
  fmt::print("parameters        {} ({:.2f}M){}\n", w.parameter_count, w.parameter_count / 1e6,
             w.lm_head_tied ? ", lm_head tied to the embedding" : "");
  std::string dtypes;
  for (const auto& name : w.stored_dtypes) dtypes += (dtypes.empty() ? "" : ", ") + name;
  fmt::print("stored dtypes     {} (computed in F32)\n", dtypes);
  fmt::print("vocab             {}\n", c.vocab_size);
  fmt::print("hidden / mlp      {} / {}{}\n", c.hidden_size, c.intermediate_size,
             c.is_moe ? fmt::format(" + CDMoE ({} experts, {} per token)", c.num_experts, c.num_experts_per_tok) : "");
  fmt::print("layers            {}\n", c.num_hidden_layers);
  fmt::print("heads             {} query / {} kv / {} bias, head_dim {}\n", c.num_attention_heads,
             c.num_key_value_heads, w.bias_heads, c.head_dim);
  fmt::print("keep_window_size  {}\n", c.keep_window_size);
  fmt::print("rope              {} theta {}{}; max_position_embeddings {}\n", rope_type_name(c.rope.type), c.rope.theta,
             c.rope.type == RopeType::Default ? "" : fmt::format(" factor {}", c.rope.factor),
             c.max_position_embeddings);
  fmt::print("rms_norm_eps      {}\n", c.rms_norm_eps);
  fmt::print("tokenizer         {}\n", model.has_tokenizer ? "tokenizer.json" : "none");
  return 0;
}

}  // namespace

Command add_info_command(CLI::App& cli) {
  auto model_dir = std::make_shared<std::string>();
  CLI::App* command =
      cli.add_subcommand("info", "config, weight layout, parameter count and dtypes of a Doge model folder");
  command->add_option("DIR", *model_dir, "the model folder (config.json + safetensors)")->required();
  return {command, [model_dir] { return run_info(*model_dir); }};
}

}  // namespace dmascope::cli
