// `dmascope-cli make-model`: writes a random Doge checkpoint of a named shape (for benchmarks and demos).
#include <fmt/core.h>

#include "app/cli/cli_args.h"
#include "app/cli/commands.h"
#include "core/base/error.h"
#include "core/model/random_model.h"

namespace dmascope::cli {

int command_make_model(const std::vector<std::string>& argv) {
  const Args args(argv, {"--preset", "--out", "--seed", "--dtype", "--window"}, {"--force"});
  if (!args.positional().empty()) fail("make-model: unexpected argument '{}'", args.positional()[0]);
  DogeConfig config = random_model_preset(args.value("--preset").value_or("tiny"));
  if (args.value("--window")) config.keep_window_size = args.integer("--window", 0);
  if (config.keep_window_size < 1) fail("argument --window must be at least 1");
  const std::string dtype_text = args.value("--dtype").value_or("f32");
  if (dtype_text != "f32" && dtype_text != "bf16") fail("argument --dtype must be f32 or bf16, got '{}'", dtype_text);
  const std::string out = args.required("--out");
  write_random_doge(out, config, dtype_text == "f32" ? DType::F32 : DType::BF16,
                    static_cast<std::uint64_t>(args.integer("--seed", 0)), args.flag("--force"));
  fmt::print("wrote a random {}-layer Doge ({} hidden, {}/{} heads, d {}, vocab {}) to {}\n", config.num_hidden_layers,
             config.hidden_size, config.num_attention_heads, config.num_key_value_heads, config.head_dim,
             config.vocab_size, out);
  return 0;
}

}  // namespace dmascope::cli
