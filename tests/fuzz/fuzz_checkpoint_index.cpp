// libFuzzer target: model.safetensors.index.json parsing never crashes; bad input only ever raises dmascope::Error,
// and every shard it accepts is a plain file name (no way out of the model directory).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/formats/checkpoint_files.h"
#include "core/base/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto weight_map = dmascope::parse_weight_map(
        std::string_view(reinterpret_cast<const char*>(data), size), "fuzz/model.safetensors.index.json");
    for (const auto& [tensor, shard] : weight_map)
      if (shard.empty() || shard == ".." || shard.find('/') != std::string::npos ||
          shard.find('\0') != std::string::npos)
        std::abort();
  } catch (const dmascope::Error&) {
  }
  return 0;
}
