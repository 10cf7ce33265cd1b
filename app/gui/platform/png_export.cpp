#include "app/gui/platform/png_export.h"

#include <stb_image_write.h>

#include "core/formats/atomic_write.h"
#include "core/base/error.h"

namespace dmascope::gui {

std::string encode_png(const RgbaImage& image) {
  std::string bytes;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
  };
  if (!stbi_write_png_to_func(append, &bytes, image.width, image.height, 4, image.pixels.data(), image.width * 4))
    fail("PNG encoding of a {}x{} image failed", image.width, image.height);
  return bytes;
}

void write_png(const std::filesystem::path& path, const RgbaImage& image) {
  try {
    write_file_atomically(path, encode_png(image));
  } catch (const std::exception& error) {
    fail("cannot write the PNG {}: {}", path.string(), error.what());
  }
}

}  // namespace dmascope::gui
