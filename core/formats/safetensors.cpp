#include "core/formats/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_set>

#include "core/formats/atomic_write.h"
#include "core/base/error.h"
#include "core/base/printable.h"
#include "core/base/regular_file.h"

namespace dmascope {

using nlohmann::json;

namespace {

constexpr std::string_view kMetadataKey = "__metadata__";

std::uint64_t load_u64_le(const std::byte* bytes) {
  std::uint64_t value;
  std::memcpy(&value, bytes, sizeof(value));
  if constexpr (std::endian::native == std::endian::big) value = __builtin_bswap64(value);
  return value;
}

void store_u64_le(std::uint64_t value, char* out) {
  if constexpr (std::endian::native == std::endian::big) value = __builtin_bswap64(value);
  std::memcpy(out, &value, sizeof(value));
}

std::string supported_dtypes() {
  std::string names;
  for (DType dtype : {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64, DType::I32, DType::I16, DType::I8,
                      DType::U8, DType::BOOL})
    names += (names.empty() ? "" : ", ") + std::string(dtype_name(dtype));
  return names;
}

// A short rendering of an offending JSON value for error messages (bounded: headers can be huge).
std::string excerpt(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return printable(text);
}

DType parse_dtype(const json& entry, std::string_view source, const std::string& name) {
  const auto it = entry.find("dtype");
  if (it == entry.end()) fail("{}: tensor '{}': field 'dtype' is missing", source, name);
  if (!it->is_string()) fail("{}: tensor '{}': field 'dtype' must be a string, got {}", source, name, excerpt(*it));
  const auto& text = it->get_ref<const std::string&>();
  const auto dtype = dtype_from_name(text);
  if (!dtype)
    fail("{}: tensor '{}': field 'dtype' is {}, which is not supported (supported: {})", source, name, excerpt(*it),
         supported_dtypes());
  return *dtype;
}

Shape parse_shape(const json& entry, std::string_view source, const std::string& name) {
  const auto it = entry.find("shape");
  if (it == entry.end()) fail("{}: tensor '{}': field 'shape' is missing", source, name);
  if (!it->is_array())
    fail("{}: tensor '{}': field 'shape' must be an array of non-negative integers, got {}", source, name,
         excerpt(*it));
  Shape shape;
  std::uint64_t numel = 1;
  for (const auto& extent : *it) {
    if (!extent.is_number_unsigned() ||
        extent.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      fail("{}: tensor '{}': field 'shape' must be an array of non-negative integers, got {}", source, name,
           excerpt(*it));
    const std::uint64_t value = extent.get<std::uint64_t>();
    if (__builtin_mul_overflow(numel, value, &numel) ||
        numel > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      fail("{}: tensor '{}': field 'shape' {} has more elements than can be counted (overflow)", source, name,
           excerpt(*it));
    shape.push_back(static_cast<std::int64_t>(value));
  }
  return shape;
}

std::pair<std::uint64_t, std::uint64_t> parse_offsets(const json& entry, std::string_view source,
                                                      const std::string& name) {
  const auto it = entry.find("data_offsets");
  if (it == entry.end()) fail("{}: tensor '{}': field 'data_offsets' is missing", source, name);
  if (!it->is_array() || it->size() != 2 || !(*it)[0].is_number_unsigned() || !(*it)[1].is_number_unsigned())
    fail("{}: tensor '{}': field 'data_offsets' must be [begin, end] with two non-negative integers, got {}", source,
         name, excerpt(*it));
  const auto begin = (*it)[0].get<std::uint64_t>(), end = (*it)[1].get<std::uint64_t>();
  if (begin > end) fail("{}: tensor '{}': field 'data_offsets' [{}, {}] ends before it begins", source, name, begin, end);
  return {begin, end};
}

std::map<std::string, std::string> parse_metadata(const json& value, std::string_view source) {
  if (!value.is_object())
    fail("{}: '{}' must be an object of string values, got {}", source, kMetadataKey, excerpt(value));
  std::map<std::string, std::string> metadata;
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string())
      fail("{}: '{}' key '{}' must have a string value, got {}", source, kMetadataKey, printable(key),
           excerpt(item));
    metadata.emplace(key, item.get<std::string>());
  }
  return metadata;
}

// The data section must be tiled exactly: sorted by offset, each tensor starts where the previous one ended and the
// last one ends at the end of the file. Overlaps would alias tensors; holes and trailing bytes are what the
// reference implementation rejects too (they are where hidden or corrupt data would sit).
void check_tiling(const std::vector<TensorEntry>& entries, std::uint64_t data_size, std::string_view source) {
  std::uint64_t covered = 0;
  const TensorEntry* previous = nullptr;
  for (const auto& entry : entries) {
    if (entry.begin < covered)
      fail("{}: tensor '{}' (data_offsets [{}, {}]) overlaps tensor '{}' (data_offsets [{}, {}])", source,
           printable(entry.name), entry.begin, entry.end, printable(previous->name),
           previous->begin, previous->end);
    if (entry.begin > covered)
      fail("{}: hole in the data section: bytes [{}, {}) before tensor '{}' belong to no tensor", source, covered,
           entry.begin, printable(entry.name));
    covered = entry.end;
    previous = &entry;
  }
  if (covered != data_size)
    fail("{}: the data section has {} bytes but its tensors cover only {} (trailing bytes [{}, {}) after {} belong to "
         "no tensor)",
         source, data_size, covered, covered, data_size,
         previous ? fmt::format("tensor '{}'", printable(previous->name)) : std::string("the header"));
}

// nlohmann quotes the offending input in its messages, which may not even be UTF-8: keep only ASCII of it.
std::string ascii_only(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (static_cast<unsigned char>(c) >= 0x7F) c = '?';
  return printable(out);
}

std::string_view as_chars(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

namespace {

// Builds the DOM as nlohmann's own SAX DOM builder does, and checks each key against the keys of its own object and
// the depth at each opening bracket. (nlohmann's callback parser does the same checks but rescans the parent object at
// the end of every object, which makes a header of n tensors cost n² steps: 300k tensors took minutes.) Here every
// event costs O(1) plus a hash-set insert, so a header parses in time linear in its size.
class StrictJsonBuilder {
 public:
  StrictJsonBuilder(json& root, std::string_view source_name, int max_depth)
      : dom_(root), source_name_(source_name), max_depth_(max_depth) {}

  bool null() { return dom_.null(); }
  bool boolean(bool value) { return dom_.boolean(value); }
  bool number_integer(json::number_integer_t value) { return dom_.number_integer(value); }
  bool number_unsigned(json::number_unsigned_t value) { return dom_.number_unsigned(value); }
  bool number_float(json::number_float_t value, const std::string& text) { return dom_.number_float(value, text); }
  bool string(std::string& value) { return dom_.string(value); }
  bool binary(json::binary_t& value) { return dom_.binary(value); }
  bool start_object(std::size_t size) {
    open(true);
    return dom_.start_object(size);
  }
  bool key(std::string& name) {
    OpenContainer& keys = open_keys_.back();
    bool duplicate;
    if (keys.hashed.empty() && keys.few.size() < kFewKeys) {  // most objects (a tensor entry) have 3 keys
      duplicate = std::find(keys.few.begin(), keys.few.end(), name) != keys.few.end();
      if (!duplicate) keys.few.push_back(name);
    } else {
      if (keys.hashed.empty()) keys.hashed.insert(keys.few.begin(), keys.few.end());
      duplicate = !keys.hashed.insert(name).second;
    }
    if (duplicate) fail("{}: duplicate key '{}' in the JSON", source_name_, printable(name));
    return dom_.key(name);
  }
  bool end_object() {
    open_keys_.pop_back();
    return dom_.end_object();
  }
  bool start_array(std::size_t size) {
    open(false);
    return dom_.start_array(size);
  }
  bool end_array() {
    open_keys_.pop_back();
    return dom_.end_array();
  }
  bool parse_error(std::size_t position, const std::string& last_token, const nlohmann::detail::exception& error) {
    return dom_.parse_error(position, last_token, error);  // throws the error, as json::parse does
  }

 private:
  void open(bool) {
    if (static_cast<int>(open_keys_.size()) >= max_depth_)
      fail("{}: JSON nested deeper than {} levels, which this file never needs", source_name_, max_depth_);
    open_keys_.emplace_back();  // arrays get an unused entry, so that the stack follows the nesting
  }

  // The keys seen so far in one open object: a short list until it has kFewKeys, then a hash set.
  struct OpenContainer {
    std::vector<std::string> few;
    std::unordered_set<std::string> hashed;
  };
  static constexpr std::size_t kFewKeys = 8;

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  std::string_view source_name_;
  int max_depth_;
  std::vector<OpenContainer> open_keys_;
};

}  // namespace

json parse_json_object_strictly(std::string_view text, std::string_view source_name, int max_depth) {
  json root;
  try {
    StrictJsonBuilder builder(root, source_name, max_depth);
    json::sax_parse(text.begin(), text.end(), &builder);
  } catch (const json::exception& error) {
    fail("{}: not valid JSON: {}", source_name, ascii_only(error.what()));
  }
  if (!root.is_object()) fail("{}: the JSON must be an object, got {}", source_name, excerpt(root));
  return root;
}

SafetensorsHeader SafetensorsFile::parse_header(std::string_view header_json, std::uint64_t data_size,
                                                std::string_view source_name) {
  if (header_json.empty() || header_json.front() != '{')
    fail("{}: the header must be a JSON object starting with '{{' (found {})", source_name,
         header_json.empty() ? std::string("an empty header") : fmt::format("byte 0x{:02x}", header_json.front() & 0xFF));
  // Depth 3 is all a header needs (header → entry → shape); a little slack for unknown fields in entries.
  const json root = parse_json_object_strictly(header_json, fmt::format("{}: header", source_name), 8);

  SafetensorsHeader header;
  for (const auto& [name, value] : root.items()) {
    if (name == kMetadataKey) {
      header.metadata = parse_metadata(value, source_name);
      continue;
    }
    const std::string shown = printable(name);
    if (!value.is_object())
      fail("{}: tensor '{}': entry must be an object with dtype, shape and data_offsets, got {}", source_name, shown,
           excerpt(value));
    TensorEntry entry;
    entry.name = name;
    entry.dtype = parse_dtype(value, source_name, shown);
    entry.shape = parse_shape(value, source_name, shown);
    std::tie(entry.begin, entry.end) = parse_offsets(value, source_name, shown);
    if (entry.end > data_size)
      fail("{}: tensor '{}': field 'data_offsets' [{}, {}] reaches past the end of the data section ({} bytes)",
           source_name, shown, entry.begin, entry.end, data_size);
    std::uint64_t expected_bytes;
    if (__builtin_mul_overflow(static_cast<std::uint64_t>(shape_numel(entry.shape)), dtype_size(entry.dtype),
                               &expected_bytes) ||
        entry.end - entry.begin != expected_bytes)
      fail("{}: tensor '{}': field 'data_offsets' [{}, {}] spans {} bytes, but {} {} needs {} elements × {} bytes",
           source_name, shown, entry.begin, entry.end, entry.end - entry.begin, dtype_name(entry.dtype),
           shape_str(entry.shape), shape_numel(entry.shape), dtype_size(entry.dtype));
    header.entries.push_back(std::move(entry));
  }
  std::sort(header.entries.begin(), header.entries.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  check_tiling(header.entries, data_size, source_name);
  return header;
}

SafetensorsHeader SafetensorsFile::parse(std::span<const std::byte> file_bytes, std::string_view source_name) {
  if (file_bytes.empty()) fail("{}: the file is empty (0 bytes); a safetensors file starts with an 8-byte header length", source_name);
  if (file_bytes.size() < 8)
    fail("{}: the file is {} bytes, shorter than the 8-byte header length every safetensors file starts with",
         source_name, file_bytes.size());
  const std::uint64_t header_length = load_u64_le(file_bytes.data());
  if (header_length > kMaxSafetensorsHeaderBytes)
    fail("{}: header length {} is absurd (more than {} bytes): not a safetensors file, or a corrupt one", source_name,
         header_length, kMaxSafetensorsHeaderBytes);
  const std::uint64_t available = file_bytes.size() - 8;
  if (header_length > available)
    fail("{}: header length {} reaches past the end of the file ({} bytes after the length): the file is truncated "
         "or not safetensors",
         source_name, header_length, available);
  const std::string_view header_json = as_chars(file_bytes.subspan(8, header_length));
  SafetensorsHeader header = parse_header(header_json, available - header_length, source_name);
  header.data_offset = 8 + header_length;
  return header;
}

std::shared_ptr<const SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
  const std::string source = printable(path.string());
  const int fd = open_regular_file(path, "the safetensors file");  // a FIFO would block a plain open() forever
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    fail("{}: cannot stat safetensors file: {}", source, std::strerror(error));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    fail("{}: not a regular file (a directory or device), expected a safetensors file", source);
  }
  const auto size = static_cast<std::uint64_t>(info.st_size);
  std::shared_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  if (size > 0) {  // mmap of 0 bytes is an error; parse() below reports the empty file properly
    void* mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapping == MAP_FAILED) {
      const int error = errno;
      ::close(fd);
      fail("{}: cannot memory-map {} bytes: {}", source, size, std::strerror(error));
    }
    file->mapping_ = static_cast<const std::byte*>(mapping);
    file->mapping_size_ = size;
  }
  file->fd_ = fd;  // read_tensor reads through it; the destructor closes it
  file->header_ = parse(file->mapped_bytes(), source);
  for (std::size_t i = 0; i < file->header_.entries.size(); ++i) file->index_.emplace(file->header_.entries[i].name, i);
  return file;
}

SafetensorsFile::~SafetensorsFile() {
  if (mapping_) ::munmap(const_cast<std::byte*>(mapping_), mapping_size_);
  if (fd_ >= 0) ::close(fd_);
}

const TensorEntry* SafetensorsFile::find(std::string_view name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &header_.entries[it->second];
}

Tensor SafetensorsFile::tensor(std::string_view name) const {
  const TensorEntry* entry = find(name);
  if (!entry) fail("{}: no tensor '{}' in this file ({} tensors)", path_.string(), printable(name),
         header_.entries.size());
  const std::byte* bytes = mapping_ + header_.data_offset + entry->begin;  // validated: inside the mapping
  return Tensor::borrow(shared_from_this(), bytes, entry->dtype, entry->shape);
}

Tensor SafetensorsFile::read_tensor(std::string_view name) const {
  const TensorEntry* entry = find(name);
  if (!entry) fail("{}: no tensor '{}' in this file ({} tensors)", path_.string(), printable(name),
         header_.entries.size());
  Tensor copy = Tensor::zeros(entry->dtype, entry->shape);
  std::byte* out = copy.mutable_bytes();
  const std::uint64_t first = header_.data_offset + entry->begin, bytes = entry->end - entry->begin;
  for (std::uint64_t done = 0; done < bytes;) {
    const ::ssize_t got = ::pread(fd_, out + done, bytes - done, static_cast<::off_t>(first + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0)
      fail("{}: cannot read tensor '{}' (bytes [{}, {}) of the file): {}", path_.string(), printable(name),
           first, first + bytes, std::strerror(errno));
    if (got == 0)
      fail("{}: the file ends at byte {} while tensor '{}' needs bytes [{}, {}): it was truncated after it was opened",
           path_.string(), first + done, printable(name), first, first + bytes);
    done += static_cast<std::uint64_t>(got);
  }
  return copy;
}

void write_safetensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  write_safetensors(path, tensors, metadata, OutputRule{.force = true, .inputs = {}});
}

void write_safetensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata, const OutputRule& rule) {
  check_output_target(path, rule);  // before encoding anything: a refused output costs nothing
  const std::string target = path.string();
  std::set<std::string_view> seen;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty()) fail("{}: cannot write a tensor with an empty name", target);
    if (name == kMetadataKey) fail("{}: cannot write a tensor named '{}' (reserved for metadata)", target, name);
    if (!seen.insert(name).second)
      fail("{}: tensor name '{}' is given twice", target, printable(name));
    if (!tensor.defined()) fail("{}: tensor '{}' is not defined (no data)", target, printable(name));
  }

  // Data layout like the reference writer: larger elements first (stable, so equal sizes keep the caller's order),
  // which keeps every tensor aligned to its element size once the data section itself is 8-aligned.
  std::vector<std::size_t> order(tensors.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return dtype_size(tensors[a].second.dtype()) > dtype_size(tensors[b].second.dtype());
  });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[std::string(kMetadataKey)] = metadata;
  std::uint64_t offset = 0;
  for (std::size_t i : order) {
    const auto& [name, tensor] = tensors[i];
    const std::uint64_t bytes = tensor.nbytes();
    header[name] = {{"dtype", dtype_name(tensor.dtype())}, {"shape", tensor.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const nlohmann::json::exception& error) {  // e.g. a name or metadata value that is not UTF-8
    fail("{}: cannot encode the header: {}", target, error.what());
  }
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  write_file_atomically(path, [&](AtomicFileWriter& writer) {
    char length[8];
    store_u64_le(header_text.size(), length);
    writer.write(length, sizeof(length));
    writer.write(header_text);
    for (std::size_t i : order) writer.write(tensors[i].second.bytes(), tensors[i].second.nbytes());
  }, rule);
}

}  // namespace dmascope
