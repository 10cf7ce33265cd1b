// `dmascope-cli forward`: runs the forward pass (the CPU's, or with --backend cuda the GPU's fp32 twin) on a model
// and prints what the mask did, layer by layer and head by head (token density, tile density, skipped tiles), the
// speed, and optionally a coarse text picture of one tile map.
#include <fmt/core.h>

#include <random>

#include "app/cli/cli_args.h"
#include "app/cli/commands.h"
#include "core/model/doge_forward.h"
#include "core/model/forward_memory.h"
#include "core/base/error.h"
#include "core/base/parallel.h"
#include "core/tokenizer/tokenizer.h"
#ifdef DMASCOPE_HAS_CUDA
#include "kernels/dma_cuda.h"
#include "kernels/doge_forward_cuda.h"
#endif

namespace dmascope::cli {

namespace {

// One character per block of tiles: ' ' all skipped, '.' some kept, '#' all full. At most `width` columns.
void print_tile_map(const TileMap& map, std::int64_t width) {
  const std::int64_t step = std::max<std::int64_t>(1, (map.k_tiles + width - 1) / width);
  fmt::print("tile map ({} x {} tiles of {}x{}; ' ' skipped, '.' partial, '#' full; {} tile(s) per character)\n",
             map.q_tiles, map.k_tiles, map.shape.rows, map.shape.cols, step * step);
  for (std::int64_t qt = 0; qt < map.q_tiles; qt += step) {
    std::string line;
    for (std::int64_t kt = 0; kt < map.k_tiles; kt += step) {
      int any = 0, all_full = 1;
      for (std::int64_t a = qt; a < std::min(map.q_tiles, qt + step); ++a)
        for (std::int64_t b = kt; b < std::min(map.k_tiles, kt + step); ++b) {
          const auto status = static_cast<TileStatus>(map.status[a * map.k_tiles + b]);
          any |= status != TileStatus::Skipped;
          all_full &= status == TileStatus::Full;
        }
      line += !any ? ' ' : all_full ? '#' : '.';
    }
    fmt::print("|{}|\n", line);
  }
}

}  // namespace

int command_forward(const std::vector<std::string>& argv) {
  const Args args(argv, {"--model", "--ids", "--text", "--random", "--seed", "--window", "--tile", "--threads",
                         "--mask-variant", "--map-layer", "--map-head", "--repeat", "--backend", "--tile-maps"},
                  {"--map", "--quiet"});
  if (!args.positional().empty()) fail("forward: unexpected argument '{}'", args.positional()[0]);
  const DogeModel model = DogeModel::load(args.required("--model"));
  if (args.value("--threads")) set_worker_count(args.integer("--threads", 0));

  std::vector<std::int32_t> ids;
  const int sources = !!args.value("--ids") + !!args.value("--text") + !!args.value("--random");
  if (sources != 1) fail("forward: give exactly one of --ids, --text or --random N");
  if (auto text = args.value("--text")) {
    if (!model.has_tokenizer) fail("forward: --text needs a tokenizer.json in {}", model.dir.string());
    ids = Tokenizer::load(model.dir / "tokenizer.json").encode(*text, true);
  } else if (args.value("--ids")) {
    ids = parse_id_list(*args.value("--ids"));
  } else {
    const std::int64_t length = args.integer("--random", 0);
    if (length < 1) fail("argument --random must be a positive token count, got {}", length);
    // Before the ids exist: a billion of them alone are 4 GB. The forward re-checks with the parsed options.
    if (args.value("--backend").value_or("cpu") == "cpu") require_cpu_forward_memory(model, length, ForwardOptions{});
    std::mt19937 rng(static_cast<std::uint32_t>(args.integer("--seed", 0)));
    std::uniform_int_distribution<std::int32_t> token(0, static_cast<std::int32_t>(model.config.vocab_size - 1));
    for (std::int64_t i = 0; i < length; ++i) ids.push_back(token(rng));
  }

  ForwardOptions options;
  options.window = args.integer("--window", 0);
  if (args.value("--window") && options.window < 1) fail("argument --window must be at least 1, got {}", options.window);
  const std::int64_t tile = args.integer("--tile", 64);
  if (tile < 1) fail("argument --tile must be positive, got {}", tile);
  options.tiles = {tile, tile};
  if (auto variant = args.value("--mask-variant")) options.mask_variant = mask_variant_from_name(*variant);
  const std::int64_t repeats = args.integer("--repeat", 1);
  if (repeats < 1) fail("argument --repeat must be positive, got {}", repeats);

  const std::string backend = args.value("--backend").value_or("cpu");
  if (backend != "cpu" && backend != "cuda") fail("argument --backend: expected cpu or cuda, got '{}'", backend);
  ForwardResult result;
  std::vector<double> elapsed, gpu_elapsed;
  std::string gpu_line;
  if (backend == "cpu") {
    for (std::int64_t r = 0; r < repeats; ++r) {
      result = doge_forward(model, ids, options);
      elapsed.push_back(result.elapsed_ms);
    }
  } else {
#ifdef DMASCOPE_HAS_CUDA
    // The GPU forward: weights uploaded once, then `repeats` runs. Only the last position's logits come back (the
    // summary does not print logits); q/k/v stay on the device. Tile maps are built on the CPU from the masks.
    cuda::DogeForwardCuda gpu_forward(model);
    cuda::GpuForwardOutputs outputs;
    outputs.attention_inputs = false;
    outputs.logits = cuda::LogitRows::Last;
    const std::string tile_maps = args.value("--tile-maps").value_or("gpu");
    if (tile_maps != "gpu" && tile_maps != "cpu") fail("argument --tile-maps: expected gpu or cpu, got '{}'", tile_maps);
    outputs.tile_maps_on_gpu = tile_maps == "gpu";
    cuda::GpuForwardResult gpu;
    for (std::int64_t r = 0; r < repeats; ++r) {
      gpu = gpu_forward.run(ids, options, outputs);
      elapsed.push_back(gpu.forward.elapsed_ms);
      gpu_elapsed.push_back(gpu.gpu_ms);
    }
    std::sort(gpu_elapsed.begin(), gpu_elapsed.end());
    gpu_line = fmt::format("GPU {:.2f} ms median of {} (device time, CUDA events; min {:.2f}, max {:.2f}), downloads "
                           "{:.2f} ms, tile maps ({}) {:.2f} ms, weights {:.1f} MB on {}\n",
                           gpu_elapsed[gpu_elapsed.size() / 2], repeats, gpu_elapsed.front(), gpu_elapsed.back(),
                           gpu.download_ms, tile_maps, gpu.tile_map_ms, gpu_forward.weight_bytes() / 1e6,
                           cuda::device_info().name);
    result = std::move(gpu.forward);
#else
    fail("argument --backend cuda: this dmascope-cli was built without CUDA");
#endif
  }
  std::sort(elapsed.begin(), elapsed.end());
  const double median_ms = elapsed[elapsed.size() / 2];
  const auto L = static_cast<std::int64_t>(ids.size());
  if (backend == "cpu")
    fmt::print("{} tokens, window {}, {} mask, {} threads (CPU, fp32)\n", L, result.window,
               mask_variant_name(options.mask_variant), worker_count());
  else
    fmt::print("{} tokens, window {}, {} mask (CUDA, fp32)\n", L, result.window, mask_variant_name(options.mask_variant));
  fmt::print("forward {:.1f} ms median of {} ({:.0f} tokens/s), attention {:.1f} ms of the last run\n", median_ms,
             repeats, L / (median_ms / 1000.0), result.attention_ms);
  fmt::print("{}", gpu_line);
  if (!args.flag("--quiet")) {
    fmt::print("{:>5} {:>4} {:>14} {:>13} {:>9} {:>9} {:>9}\n", "layer", "head", "token density", "tile density",
               "skipped", "partial", "full");
    for (std::size_t layer = 0; layer < result.layers.size(); ++layer)
      for (std::size_t head = 0; head < result.layers[layer].tile_maps.size(); ++head) {
        const TileMap& map = result.layers[layer].tile_maps[head];
        fmt::print("{:>5} {:>4} {:>13.1f}% {:>12.1f}% {:>9} {:>9} {:>9}\n", layer, head, 100.0 * map.token_density(),
                   100.0 * map.tile_density(), map.skipped, map.partial, map.full);
      }
  }
  if (args.flag("--map")) {
    const auto layer = static_cast<std::size_t>(args.integer("--map-layer", 0));
    const auto head = static_cast<std::size_t>(args.integer("--map-head", 0));
    if (layer >= result.layers.size()) fail("argument --map-layer: {} is not a layer (0..{})", layer, result.layers.size() - 1);
    if (head >= result.layers[layer].tile_maps.size())
      fail("argument --map-head: {} is not a bias head (0..{})", head, result.layers[layer].tile_maps.size() - 1);
    print_tile_map(result.layers[layer].tile_maps[head], 64);
  }
  return 0;
}

}  // namespace dmascope::cli
