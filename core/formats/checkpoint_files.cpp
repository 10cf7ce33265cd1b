#include "core/formats/checkpoint_files.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/base/error.h"
#include "core/base/printable.h"
#include "core/base/regular_file.h"

namespace dmascope {

namespace fs = std::filesystem;

namespace {

constexpr std::uintmax_t kMaxIndexBytes = 100ull << 20;  // real indexes are kilobytes; more is not an index

// A shard must be a file directly inside the model directory: anything else could make a downloaded index read
// arbitrary files (../../home/...), and a NUL would silently cut the path short.
void check_plain_file_name(const std::string& shard, const std::string& tensor, std::string_view source) {
  const bool has_bad_char = std::any_of(shard.begin(), shard.end(), [](char c) {
    return c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20;
  });
  if (shard.empty() || shard == "." || shard == ".." || has_bad_char || fs::path(shard).is_absolute())
    fail("{}: field 'weight_map': tensor '{}' names shard '{}', which is not a plain file name inside the model "
         "directory (no '/', '..' or absolute paths)",
         source, printable(tensor), printable(shard));
}

std::string read_index_text(const fs::path& path) {
  return read_regular_file(path, "the checkpoint index", kMaxIndexBytes);
}

bool has_extension(const std::string& name, std::initializer_list<std::string_view> extensions) {
  return std::any_of(extensions.begin(), extensions.end(), [&](std::string_view ext) { return name.ends_with(ext); });
}

// With no weights where expected, say what is there instead: a wrong folder, a pickle-only upload, a renamed file.
[[noreturn]] void fail_no_checkpoint(const fs::path& dir) {
  std::vector<std::string> all, weights, pickles, other_safetensors;
  std::error_code error;
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    all.push_back(name);
    if (has_extension(name, {".bin", ".pt", ".pth", ".ckpt", ".pkl"})) pickles.push_back(name);
    if (name.ends_with(".safetensors")) other_safetensors.push_back(name);
    if (has_extension(name, {".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".pkl", ".gguf", ".h5", ".msgpack",
                             ".index.json"}))
      weights.push_back(name);
  }
  auto list = [](std::vector<std::string> names) {
    std::sort(names.begin(), names.end());
    constexpr std::size_t kShown = 12;
    std::string text;
    for (std::size_t i = 0; i < std::min(names.size(), kShown); ++i) text += (i ? ", " : "") + names[i];
    if (names.size() > kShown) text += fmt::format(" (and {} more)", names.size() - kShown);
    return text;
  };
  std::string message = fmt::format("{}: no weights found: expected {} or {} (sharded)", dir.string(),
                                    kSingleCheckpointName, kCheckpointIndexName);
  if (all.empty())
    message += "; the directory is empty";
  else if (!weights.empty())
    message += fmt::format("; weight-like files found: {}", list(weights));
  else
    message += fmt::format("; the directory holds: {}", list(all));
  if (!pickles.empty())
    message += fmt::format(
        ". PyTorch pickle checkpoints ({}) are not read (loading a pickle can run arbitrary code): convert the model "
        "to safetensors first, e.g. with transformers' save_pretrained(dir, safe_serialization=True)",
        list(pickles));
  if (!other_safetensors.empty())
    message += fmt::format(". Safetensors file(s) under other names ({}) are not picked up: rename the whole-model "
                           "file to {} or add an index",
                           list(other_safetensors), kSingleCheckpointName);
  throw Error(message);
}

}  // namespace

std::map<std::string, std::string> parse_weight_map(std::string_view json_text, std::string_view source_name) {
  const nlohmann::json root = parse_json_object_strictly(json_text, source_name, 64);
  const auto it = root.find("weight_map");
  if (it == root.end())
    fail("{}: field 'weight_map' is missing (expected an object: tensor name -> shard file)", source_name);
  if (!it->is_object())
    fail("{}: field 'weight_map' must be an object (tensor name -> shard file), got a {}", source_name,
         it->type_name());
  if (it->empty()) fail("{}: field 'weight_map' lists no tensors", source_name);
  std::map<std::string, std::string> weight_map;
  for (const auto& [tensor, shard] : it->items()) {
    if (!shard.is_string())
      fail("{}: field 'weight_map': tensor '{}' must map to a shard file name (a string), got a {}", source_name,
           printable(tensor), shard.type_name());
    check_plain_file_name(shard.get<std::string>(), tensor, source_name);
    weight_map.emplace(tensor, shard.get<std::string>());
  }
  return weight_map;
}

CheckpointFiles CheckpointFiles::open(const fs::path& model_dir) {
  std::error_code error;
  if (!fs::is_directory(model_dir, error))
    fail("{}: {}, expected a model directory holding {} or {}", model_dir.string(),
         fs::exists(model_dir, error) ? "not a directory" : "does not exist", kSingleCheckpointName,
         kCheckpointIndexName);
  CheckpointFiles files;
  files.dir_ = model_dir;

  const fs::path single = model_dir / kSingleCheckpointName;
  const fs::path index = model_dir / kCheckpointIndexName;
  if (fs::exists(single, error)) {
    files.source_ = single;
    files.files_.push_back(SafetensorsFile::open(single));
  } else if (fs::exists(index, error)) {
    files.source_ = index;
    const std::string source = index.string();
    const auto weight_map = parse_weight_map(read_index_text(index), source);
    std::map<std::string, std::vector<std::string>> tensors_of_shard;
    for (const auto& [tensor, shard] : weight_map) tensors_of_shard[shard].push_back(tensor);
    for (const auto& [shard, tensors] : tensors_of_shard) {
      const fs::path shard_path = model_dir / shard;
      if (!fs::is_regular_file(shard_path, error))
        fail("{}: field 'weight_map' puts tensor '{}'{} in shard '{}', but {} {}", source,
             printable(tensors.front()),
             tensors.size() > 1 ? fmt::format(" (and {} more)", tensors.size() - 1) : std::string(), shard,
             shard_path.string(), fs::exists(shard_path, error) ? "is not a regular file" : "does not exist");
      auto file = SafetensorsFile::open(shard_path);
      for (const auto& tensor : tensors)
        if (!file->find(tensor))
          fail("{}: field 'weight_map' puts tensor '{}' in shard '{}', but {} does not hold it", source,
               printable(tensor), shard, shard_path.string());
      files.files_.push_back(std::move(file));
    }
  } else {
    fail_no_checkpoint(model_dir);
  }

  // Tensors a shard holds beyond its weight_map entries are exposed too (transformers loads whole shards), but one
  // name stored twice would make the model depend on shard order.
  for (const auto& file : files.files_)
    for (const auto& entry : file->entries()) {
      const auto [it, inserted] = files.tensors_.emplace(entry.name, Location{file.get(), &entry});
      if (!inserted)
        fail("{}: tensor '{}' is stored in two shards: {} and {}", files.source_.string(),
             printable(entry.name),
             it->second.file->path().string(), file->path().string());
    }
  return files;
}

std::vector<std::string> CheckpointFiles::names() const {
  std::vector<std::string> names;
  names.reserve(tensors_.size());
  for (const auto& [name, location] : tensors_) names.push_back(name);
  return names;  // std::map order: already sorted
}

const TensorEntry* CheckpointFiles::find(std::string_view name) const {
  const auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : it->second.entry;
}

fs::path CheckpointFiles::file_of(std::string_view name) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) fail_missing(name);
  return it->second.file->path();
}

Tensor CheckpointFiles::tensor(std::string_view name) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) fail_missing(name);
  return it->second.file->tensor(name);
}

Tensor CheckpointFiles::read_tensor(std::string_view name) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) fail_missing(name);
  return it->second.file->read_tensor(name);
}

std::uint64_t CheckpointFiles::total_bytes() const {
  std::uint64_t total = 0;
  for (const auto& [name, location] : tensors_) total += location.entry->end - location.entry->begin;
  return total;
}

void CheckpointFiles::fail_missing(std::string_view name) const {
  fail("{}: no tensor '{}' in this checkpoint ({} tensors in {} file{})", source_.string(), printable(name),
       tensors_.size(), files_.size(), files_.size() == 1 ? "" : "s");
}

}  // namespace dmascope
