// dmascope-cli: the command-line front end over core/ (no GUI dependency).
#include <fmt/core.h>

#include <exception>
#include <string>
#include <vector>

#include "app/cli/commands.h"
#include "core/base/error.h"

namespace {

constexpr const char* kUsage = R"(usage: dmascope-cli <command> [arguments]

commands:
  info DIR                      config, weight layout, parameter count and dtypes of a Doge model folder
  tokenize DIR "text"           token ids and their display strings, with the model's tokenizer.json
  dump --model DIR (--ids 1,2,3 | --text "...") [--window N] [--mask-variant per-row|shared]
       [--bias-formula exp|linear] --out FILE [--force]
                                run the CPU forward pass and write every captured tensor (fp32) to a safetensors file
                                (--force replaces an existing FILE; a file of the model folder is never replaced)
  forward --model DIR (--ids 1,2,3 | --text "..." | --random N [--seed S]) [--window N] [--tile T]
       [--mask-variant per-row|shared] [--threads N] [--repeat R] [--map [--map-layer I] [--map-head H]] [--quiet]
       [--backend cpu|cuda [--tile-maps gpu|cpu]]
                                run the forward pass (CPU, or the GPU's fp32 twin); print speed and, per layer and
                                head, what the mask kept
  bench [--backend cpu|cuda] [--len L] [--window W] [--heads Hq/Hkv] [--dim d] [--batch B]
       [--bias random|clustered|model [--bias-model DIR]] [--precision bf16|fp16] [--repeats N] [--json] [--matrix]
                                time DMA (mask build included) against our dense kernel on one shape or the matrix
  make-model --out DIR [--preset tiny|doge-20m] [--dtype f32|bf16] [--seed S] [--window N] [--force]
                                write a random Doge checkpoint of a named shape (--force replaces one in DIR)
)";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    fmt::print(args.empty() ? stderr : stdout, "{}", kUsage);
    return args.empty() ? 2 : 0;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  try {
    if (command == "info") return dmascope::cli::command_info(args);
    if (command == "tokenize") return dmascope::cli::command_tokenize(args);
    if (command == "dump") return dmascope::cli::command_dump(args);
    if (command == "forward") return dmascope::cli::command_forward(args);
    if (command == "make-model") return dmascope::cli::command_make_model(args);
    if (command == "bench") return dmascope::cli::command_bench(args);
    fmt::print(stderr, "dmascope-cli: unknown command '{}'\n\n{}", command, kUsage);
    return 2;
  } catch (const dmascope::Error& error) {
    fmt::print(stderr, "dmascope-cli {}: error: {}\n", command, error.what());
    return 1;
  } catch (const std::exception& error) {
    fmt::print(stderr, "dmascope-cli {}: unexpected error: {}\n", command, error.what());
    return 1;
  }
}
