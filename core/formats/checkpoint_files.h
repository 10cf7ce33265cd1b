// A model directory's tensors, whether stored in one model.safetensors or sharded with a
// model.safetensors.index.json ("weight_map": tensor name -> shard file). Every shard is opened (mapped) once and
// validated up front; tensors are zero-copy views into the mappings.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/formats/safetensors.h"
#include "core/formats/tensor.h"

namespace dmascope {

inline constexpr std::string_view kSingleCheckpointName = "model.safetensors";
inline constexpr std::string_view kCheckpointIndexName = "model.safetensors.index.json";

// Parses an index file's text into its "weight_map" (tensor name -> shard file name), checking that the map is a
// non-empty object of strings and that every shard is a plain file name (no directories, no "..", not absolute).
// `source_name` starts every error message.
std::map<std::string, std::string> parse_weight_map(std::string_view json_text, std::string_view source_name);

class CheckpointFiles {
 public:
  // model.safetensors if present (as transformers prefers it), else model.safetensors.index.json. With neither the
  // Error lists what the directory holds and what was expected.
  static CheckpointFiles open(const std::filesystem::path& model_dir);

  const std::filesystem::path& dir() const { return dir_; }
  std::vector<std::string> names() const;  // sorted
  const TensorEntry* find(std::string_view name) const;  // nullptr if absent
  std::filesystem::path file_of(std::string_view name) const;  // the shard holding it; Error if absent
  Tensor tensor(std::string_view name) const;  // zero-copy; errors name the shard (or index) file and the tensor
  Tensor read_tensor(std::string_view name) const;  // an owned copy read with pread (SafetensorsFile::read_tensor)
  std::uint64_t total_bytes() const;  // the tensor data of all shards
  const std::vector<std::shared_ptr<const SafetensorsFile>>& files() const { return files_; }

 private:
  struct Location {
    const SafetensorsFile* file;  // owned by files_; stable when CheckpointFiles is moved or copied
    const TensorEntry* entry;
  };
  [[noreturn]] void fail_missing(std::string_view name) const;

  std::filesystem::path dir_;
  std::filesystem::path source_;  // model.safetensors or the index: what "missing tensor" errors point at
  std::vector<std::shared_ptr<const SafetensorsFile>> files_;
  std::map<std::string, Location, std::less<>> tensors_;
};

}  // namespace dmascope
