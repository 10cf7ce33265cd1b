// `dmascope-cli make-model`: writes a random Doge checkpoint of a named shape (for benchmarks and demos).
#include <fmt/core.h>

#include <memory>

#include "app/cli/cli_args.h"
#include "app/cli/commands.h"
#include "core/base/error.h"
#include "core/model/random_model.h"

namespace dmascope::cli {

namespace {

struct MakeModelArguments {
  std::string preset = "tiny", out, dtype = "f32";
  std::int64_t seed = 0, window = 0;  // window 0: the preset's keep_window_size
  bool force = false;
};

int run_make_model(const MakeModelArguments& args) {
  DogeConfig config = random_model_preset(args.preset);
  if (args.window > 0) config.keep_window_size = args.window;
  write_random_doge(args.out, config, args.dtype == "f32" ? DType::F32 : DType::BF16,
                    static_cast<std::uint64_t>(args.seed), args.force);
  fmt::print("wrote a random {}-layer Doge ({} hidden, {}/{} heads, d {}, vocab {}) to {}\n", config.num_hidden_layers,
             config.hidden_size, config.num_attention_heads, config.num_key_value_heads, config.head_dim,
             config.vocab_size, args.out);
  return 0;
}

}  // namespace

Command add_make_model_command(CLI::App& cli) {
  auto args = std::make_shared<MakeModelArguments>();
  CLI::App* command = cli.add_subcommand("make-model", "write a random Doge checkpoint of a named shape");
  command->add_option("--out", args->out, "the model folder to write (config.json + model.safetensors)")->required();
  command->add_option("--preset", args->preset,
                      "the shape: tiny (default), or doge-20m, doge-60m, doge-160m, doge-320m (SmallDoge's published "
                      "shapes)")
      ->check(CLI::IsMember(random_model_preset_names()));
  command->add_option("--dtype", args->dtype, "stored weight type: f32 (default) or bf16")
      ->check(CLI::IsMember({"f32", "bf16"}));
  command->add_option("--seed", args->seed, "random seed of the weights (default 0)")
      ->transform(integer_in(0, kMaxSeed));
  command->add_option("--window", args->window, "keep_window_size written to config.json (default: the preset's)")
      ->transform(integer_in(1, kMaxTokens));
  command->add_flag("--force", args->force, "replace an existing model folder at --out");
  return {command, [args] { return run_make_model(*args); }};
}

}  // namespace dmascope::cli
