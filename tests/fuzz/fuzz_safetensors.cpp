// libFuzzer target: a whole safetensors file image. Parsing never crashes and never reads outside the input; bad input
// only ever raises dmascope::Error, and whatever is accepted satisfies the invariants the zero-copy reader relies on.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "core/base/error.h"
#include "core/formats/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> file(reinterpret_cast<const std::byte*>(data), size);
  try {
    const dmascope::SafetensorsHeader header = dmascope::SafetensorsFile::parse(file, "fuzz.safetensors");
    // Accepted: the entries must tile the data section exactly, each with the size its dtype and shape need.
    std::uint64_t covered = header.data_offset;
    for (const auto& entry : header.entries) {
      if (header.data_offset + entry.begin != covered || entry.end < entry.begin) std::abort();
      if (entry.end - entry.begin !=
          static_cast<std::uint64_t>(dmascope::shape_numel(entry.shape)) * dmascope::dtype_size(entry.dtype))
        std::abort();
      covered = header.data_offset + entry.end;
    }
    if (covered != size) std::abort();
  } catch (const dmascope::Error&) {
  }
  return 0;
}
