// The safetensors format: an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape and
// byte range, then the raw data. The reader maps the file read-only and hands out zero-copy views; it validates the
// whole header first (the same rules as the reference Rust implementation, holes included) so that no later read can
// leave the mapping. The writer is atomic (see atomic_write.h).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/formats/tensor.h"

namespace dmascope {

struct TensorEntry {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  std::uint64_t begin = 0, end = 0;  // byte offsets relative to the data section
};

// A validated header: entries in offset order that cover the data section exactly, without overlap or holes.
struct SafetensorsHeader {
  std::vector<TensorEntry> entries;
  std::map<std::string, std::string> metadata;  // "__metadata__"
  std::uint64_t data_offset = 0;                // where the data section starts in the file: 8 + header length
};

inline constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 100ull << 20;  // 100 MiB: more is a corrupt length

class SafetensorsFile : public std::enable_shared_from_this<SafetensorsFile> {
 public:
  // Maps the file read-only (PROT_READ, MAP_PRIVATE); checkpoints are never written to.
  static std::shared_ptr<const SafetensorsFile> open(const std::filesystem::path& path);

  // The parsing steps of open(), on bytes in memory (also what the fuzz targets drive). `source_name` starts every
  // error message. parse() checks the length prefix of a whole file image and then calls parse_header().
  static SafetensorsHeader parse(std::span<const std::byte> file_bytes, std::string_view source_name);
  static SafetensorsHeader parse_header(std::string_view header_json, std::uint64_t data_size,
                                        std::string_view source_name);

  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const std::vector<TensorEntry>& entries() const { return header_.entries; }  // in file (offset) order
  const TensorEntry* find(std::string_view name) const;                       // nullptr if absent
  // A zero-copy view that keeps the mapping alive. A missing name is an Error naming the file and the tensor.
  // Touching the view after the file was truncated raises SIGBUS: for data used long after open(), read_tensor().
  Tensor tensor(std::string_view name) const;
  // An owned copy read from the file with pread(), not through the mapping, so that a file truncated or rewritten
  // after open() gives an Error naming the file and the tensor instead of SIGBUS at the first touch.
  Tensor read_tensor(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  std::uint64_t data_offset() const { return header_.data_offset; }
  std::span<const std::byte> mapped_bytes() const { return {mapping_, mapping_size_}; }  // the whole file

 private:
  SafetensorsFile() = default;

  std::filesystem::path path_;
  const std::byte* mapping_ = nullptr;
  std::size_t mapping_size_ = 0;
  int fd_ = -1;  // kept open for read_tensor: the file as opened, even if its path is replaced later
  SafetensorsHeader header_;
  std::map<std::string, std::size_t, std::less<>> index_;  // name -> position in header_.entries
};

// Writes atomically (temporary file in the same directory, fsync, rename). The header is padded with spaces to a
// multiple of 8 so that the data section, and every tensor whose offset is a multiple of its alignment, is aligned.
// Names must be non-empty, unique and not "__metadata__"; every tensor must be defined.
void write_safetensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});
// The same under an explicit output rule (atomic_write.h): what the CLI uses, so that --out never destroys an input
// or, without --force, an existing file.
struct OutputRule;
void write_safetensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata, const OutputRule& rule);

// JSON text that must be an object, parsed strictly: duplicate keys at any depth and nesting deeper than `max_depth`
// are errors (nlohmann would silently keep the last duplicate). Shared by the safetensors header and the sharded
// checkpoint index. Errors start with `source_name`.
nlohmann::json parse_json_object_strictly(std::string_view text, std::string_view source_name, int max_depth);

}  // namespace dmascope
