#include <fmt/core.h>

#include "app/cli/cli_args.h"
#include "app/cli/commands.h"
#include "core/model/doge_forward.h"
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

}  // namespace

int command_dump(const std::vector<std::string>& argv) {
  const Args args(argv, {"--model", "--ids", "--text", "--window", "--out", "--mask-variant", "--bias-formula"},
                  {"--force"});
  if (!args.positional().empty()) fail("dump: unexpected argument '{}'", args.positional()[0]);
  const DogeModel model = DogeModel::load(args.required("--model"));
  std::vector<std::int32_t> ids;
  if (args.value("--ids") && args.value("--text")) fail("dump: give either --ids or --text, not both");
  if (auto text = args.value("--text")) {
    if (!model.has_tokenizer) fail("dump: --text needs a tokenizer.json in {}", model.dir.string());
    ids = Tokenizer::load(model.dir / "tokenizer.json").encode(*text, true);
  } else {
    ids = parse_id_list(args.required("--ids"));
  }
  const std::string out = args.required("--out");
  // Every file of the model folder is an input (config, tokenizer, weights, index, shards): --out must not be one.
  OutputRule rule{.force = args.flag("--force"), .inputs = {}};
  std::error_code error;
  for (std::filesystem::directory_iterator it(model.dir, error), end; !error && it != end; it.increment(error))
    rule.inputs.push_back(it->path());
  check_output_target(out, rule);  // before the forward: a refused output should not cost a forward pass
  ForwardOptions options;
  options.window = args.integer("--window", 0);
  if (args.value("--window") && options.window < 1) fail("argument --window must be at least 1, got {}", options.window);
  if (auto variant = args.value("--mask-variant")) options.mask_variant = mask_variant_from_name(*variant);
  if (auto formula = args.value("--bias-formula")) {
    if (*formula != "exp" && *formula != "linear") fail("argument --bias-formula must be exp or linear, got '{}'", *formula);
    options.bias_formula = *formula == "exp" ? BiasFormula::Exp : BiasFormula::Linear;
  }
  options.capture_probs = true;
  const ForwardResult result = doge_forward(model, ids, options);

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
  fmt::print("wrote {} tensors for {} tokens (window {}) to {} in {:.1f} ms\n", tensors.size(), ids.size(),
             result.window, out, result.elapsed_ms);
  return 0;
}

}  // namespace dmascope::cli
