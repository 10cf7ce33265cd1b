// `dmascope-cli dump`: the CPU forward's captured tensors, written for comparison with a PyTorch run.
#include <fmt/core.h>

#include <filesystem>
#include <memory>

#include "app/cli/cli_args.h"
#include "app/cli/commands.h"
#include "app/cli/progress_line.h"
#include "core/model/doge_forward.h"
#include "core/model/forward_memory.h"
#include "core/base/checked_math.h"
#include "core/base/error.h"
#include "core/formats/atomic_write.h"
#include "core/formats/safetensors.h"
#include "core/tokenizer/tokenizer.h"

namespace dmascope::cli {

namespace {

// [1, Hb, L] death indices → [1, Hb, L, L] bytes, 1 = kept (the dense form researchers compare with PyTorch).
Tensor expand_kept(const Tensor& death) {
  const std::int64_t Hb = death.dim(1), L = death.dim(2);
  Tensor kept = Tensor::zeros(DType::U8, {1, Hb, L, L});
  for (std::int64_t n = 0; n < Hb; ++n) {
    const auto dense = dma_expand_keep(std::span<const std::int32_t>(death.data<std::int32_t>() + n * L, L), L);
    std::copy(dense.begin(), dense.end(), kept.mutable_data<std::uint8_t>() + n * L * L);
  }
  return kept;
}

struct DumpArguments {
  std::string model, ids, text, out, mask_variant = "per-row", bias_formula = "exp";
  std::int64_t window = 0;  // 0: the model's keep_window_size
  bool quiet = false, force = false;
  CLI::Option* ids_option = nullptr;  // count(): whether it was given
  CLI::Option* text_option = nullptr;
};

int run_dump(const DumpArguments& args) {
  if (args.ids_option->count() == 0 && args.text_option->count() == 0)
    usage_fail("give --ids or --text (the tokens to run)");
  const DogeModel model = DogeModel::load(args.model);
  std::vector<std::int32_t> ids;
  if (args.text_option->count() > 0) {
    if (!model.has_tokenizer) fail("dump: --text needs a tokenizer.json in {}", model.dir.string());
    ids = Tokenizer::load(model.dir / "tokenizer.json").encode(args.text, true);
  } else {
    ids = parse_id_list(args.ids);
  }
  const std::string& out = args.out;
  // Every file of the model folder is an input (config, tokenizer, weights, index, shards): --out must not be one.
  OutputRule rule{.force = args.force, .inputs = {}};
  std::error_code error;
  for (std::filesystem::directory_iterator it(model.dir, error), end; !error && it != end; it.increment(error))
    rule.inputs.push_back(it->path());
  check_output_target(out, rule);  // before the forward: a refused output should not cost a forward pass
  ForwardOptions options;
  options.window = args.window;
  options.mask_variant = mask_variant_from_name(args.mask_variant);
  options.bias_formula = args.bias_formula == "exp" ? BiasFormula::Exp : BiasFormula::Linear;
  options.capture_probs = true;
  ProgressLine progress("dump", args.quiet);
  if (progress.shown())
    options.on_progress = [&progress](std::int64_t done, std::int64_t total) {
      progress.update(fmt::format("forward, layer {}/{}", done, total));
    };
  // Before the forward: on top of what it holds, dump builds a dense kept mask [Hb, L, L] (bytes) per layer, and one
  // head's [L, L] expansion at a time.
  const auto L = static_cast<std::int64_t>(ids.size());
  const std::int64_t kept_bytes =
      saturating_add(saturating_mul(saturating_mul(model.config.num_hidden_layers, model.weights.bias_heads),
                                    saturating_mul(L, L)),
                     saturating_mul(L, L));
  require_cpu_forward_memory(model, L, options, kept_bytes);
  const ForwardResult result = doge_forward(model, ids, options);
  progress.update("writing the tensors");

  std::vector<std::pair<std::string, Tensor>> tensors;
  tensors.emplace_back("embed", result.embed);
  for (std::size_t i = 0; i < result.layers.size(); ++i) {
    const LayerCapture& layer = result.layers[i];
    const std::string p = fmt::format("layers.{}.", i);
    tensors.emplace_back(p + "q_rope", layer.q_rope);
    tensors.emplace_back(p + "k_rope", layer.k_rope);
    tensors.emplace_back(p + "v", layer.v);
    tensors.emplace_back(p + "dt", layer.dt);
    tensors.emplace_back(p + "dyn_bias", layer.dyn_bias);
    tensors.emplace_back(p + "kept", expand_kept(layer.death));
    tensors.emplace_back(p + "attn_probs", layer.attn_probs);
    tensors.emplace_back(p + "attn_out", layer.attn_out);
    tensors.emplace_back(p + "mlp_out", layer.mlp_out);
    tensors.emplace_back(p + "output", layer.output);
  }
  tensors.emplace_back("final_norm", result.final_norm);
  tensors.emplace_back("logits", result.logits);
  write_safetensors(out, tensors,
                    {{"format", "pt"}, {"producer", "dmascope-cli dump"}, {"window", std::to_string(result.window)},
                     {"mask_variant", std::string(mask_variant_name(options.mask_variant))}},
                    rule);
  progress.clear();
  fmt::print("wrote {} tensors for {} tokens (window {}) to {} in {:.1f} ms\n", tensors.size(), ids.size(),
             result.window, out, result.elapsed_ms);
  return 0;
}

}  // namespace

Command add_dump_command(CLI::App& cli) {
  auto args = std::make_shared<DumpArguments>();
  CLI::App* command = cli.add_subcommand(
      "dump", "run the CPU forward pass and write every captured tensor (fp32) to a safetensors file");
  command->add_option("--model", args->model, "the model folder (config.json + safetensors)")->required();
  args->ids_option = command->add_option("--ids", args->ids, "the token ids, e.g. 1,2,3")->check(id_list_check());
  args->text_option = command->add_option("--text", args->text, "a text, encoded with the model's tokenizer.json")
                          ->excludes(args->ids_option);
  command->add_option("--out", args->out, "the safetensors file to write")->required();
  command->add_option("--window", args->window, "DMA keep-window w (default: the model's keep_window_size)")
      ->transform(integer_in(1, kMaxTokens));
  command->add_option("--mask-variant", args->mask_variant, "per-row (default; each row its own top-w) or shared")
      ->check(CLI::IsMember({"per-row", "shared"}));
  command->add_option("--bias-formula", args->bias_formula, "the dynamic bias: exp (default) or linear")
      ->check(CLI::IsMember({"exp", "linear"}));
  command->add_flag("--force", args->force, "replace an existing --out file");
  command->add_flag("--quiet", args->quiet, kQuietHelp);
  return {command, [args] { return run_dump(*args); }};
}

}  // namespace dmascope::cli
