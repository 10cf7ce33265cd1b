// libFuzzer target: config.json parsing never crashes; bad input only ever raises dmascope::Error.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/model/doge_config.h"
#include "core/base/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    dmascope::DogeConfig::parse(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz/config.json");
  } catch (const dmascope::Error&) {
  }
  return 0;
}
