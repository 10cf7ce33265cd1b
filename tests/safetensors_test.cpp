// The safetensors reader and writer on good files: round trips of every dtype, zero-copy views, every fixture model
// (single-file and sharded), and the writer's atomicity.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/formats/atomic_write.h"
#include "core/formats/checkpoint_files.h"
#include "core/base/error.h"
#include "core/formats/safetensors.h"
#include "tests/test_paths.h"

namespace dmascope {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;
using TensorList = std::vector<std::pair<std::string, Tensor>>;

constexpr DType kAllDTypes[] = {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64,
                                DType::I32, DType::I16, DType::I8,  DType::U8,   DType::BOOL};

// A tensor whose bytes are a recognisable pattern (seeded so that different tensors differ).
Tensor patterned(DType dtype, Shape shape, int seed) {
  Tensor tensor = Tensor::zeros(dtype, std::move(shape));
  std::byte* bytes = tensor.nbytes() ? tensor.mutable_bytes() : nullptr;
  for (std::size_t i = 0; i < tensor.nbytes(); ++i) bytes[i] = static_cast<std::byte>((i * 7 + seed * 13) & 0xFF);
  if (dtype == DType::BOOL)
    for (std::size_t i = 0; i < tensor.nbytes(); ++i) bytes[i] = static_cast<std::byte>(i % 2);
  return tensor;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && a.nbytes() == b.nbytes() &&
         (a.nbytes() == 0 || std::memcmp(a.bytes(), b.bytes(), a.nbytes()) == 0);
}

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> dir_listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& item : fs::directory_iterator(dir)) names.push_back(item.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

bool inside(const SafetensorsFile& file, const Tensor& tensor) {
  const auto mapped = file.mapped_bytes();
  return tensor.bytes() >= mapped.data() + file.data_offset() &&
         tensor.bytes() + tensor.nbytes() <= mapped.data() + mapped.size();
}

TEST(Safetensors, EveryDTypeRoundTripsThroughWriterAndReader) {
  const fs::path path = testing::scratch_dir() / "all.safetensors";
  TensorList tensors;
  int seed = 0;
  for (DType dtype : kAllDTypes) {
    const std::string name(dtype_name(dtype));
    tensors.emplace_back(name + ".matrix", patterned(dtype, {3, 5}, ++seed));
    tensors.emplace_back(name + ".scalar", patterned(dtype, {}, ++seed));
    tensors.emplace_back(name + ".empty", patterned(dtype, {0, 4}, ++seed));
  }
  const std::map<std::string, std::string> metadata{{"format", "pt"}, {"note", "ünïcode ok"}};
  write_safetensors(path, tensors, metadata);

  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->metadata(), metadata);
  ASSERT_EQ(file->entries().size(), tensors.size());
  for (const auto& [name, written] : tensors) {
    SCOPED_TRACE(name);
    ASSERT_NE(file->find(name), nullptr);
    const Tensor read = file->tensor(name);
    EXPECT_TRUE(read.defined());
    EXPECT_FALSE(read.writable());
    EXPECT_TRUE(same_bytes(read, written));
  }
  // The header is padded so that data starts 8-aligned, and larger elements go first so every tensor is aligned.
  EXPECT_EQ(file->data_offset() % 8, 0u);
  for (const auto& entry : file->entries()) EXPECT_EQ(entry.begin % dtype_size(entry.dtype), 0u) << entry.name;
}

TEST(Safetensors, EntriesAreInOffsetOrderAndTileTheDataSection) {
  const fs::path path = testing::scratch_dir() / "order.safetensors";
  write_safetensors(path, {{"z", patterned(DType::F32, {2}, 1)}, {"a", patterned(DType::F32, {3}, 2)},
                           {"m", patterned(DType::U8, {5}, 3)}});
  const auto file = SafetensorsFile::open(path);
  std::uint64_t covered = 0;
  for (const auto& entry : file->entries()) {
    EXPECT_EQ(entry.begin, covered);
    covered = entry.end;
  }
  EXPECT_EQ(covered, fs::file_size(path) - file->data_offset());
  EXPECT_EQ(file->entries().front().name, "z");  // the writer keeps the caller's order among equal element sizes
}

TEST(Safetensors, TensorsAreZeroCopyViewsThatKeepTheMappingAlive) {
  const fs::path path = testing::scratch_dir() / "view.safetensors";
  const Tensor original = patterned(DType::F32, {64, 8}, 5);
  write_safetensors(path, {{"w", original}, {"b", patterned(DType::BF16, {7}, 6)}});
  Tensor view;
  {
    const auto file = SafetensorsFile::open(path);
    view = file->tensor("w");
    EXPECT_TRUE(inside(*file, view));
    EXPECT_EQ(file->tensor("w").bytes(), view.bytes());  // the same bytes every time: no copy
    EXPECT_THROW(view.mutable_bytes(), Error);
  }
  // The file object is gone; the view still owns the mapping.
  EXPECT_TRUE(same_bytes(view, original));
}

TEST(Safetensors, ReaderAcceptsUnpaddedHeadersEmptyTensorsAndNoTensors) {
  const fs::path dir = testing::scratch_dir();
  auto raw = [&](const std::string& name, const std::string& header, const std::string& data) {
    std::string bytes(8, '\0');
    const std::uint64_t length = header.size();
    std::memcpy(bytes.data(), &length, 8);
    std::ofstream(dir / name, std::ios::binary) << bytes << header << data;
    return dir / name;
  };
  const auto odd = SafetensorsFile::open(
      raw("odd.safetensors", R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\x01')));
  EXPECT_NE(odd->data_offset() % 8, 0u);  // legal: transformers' writer does not always pad
  EXPECT_EQ(odd->tensor("x").nbytes(), 8u);
  const auto empty = SafetensorsFile::open(
      raw("empty.safetensors", R"({"e":{"dtype":"I64","shape":[3,0],"data_offsets":[0,0]},"__metadata__":{}})", ""));
  EXPECT_EQ(empty->tensor("e").numel(), 0);
  EXPECT_TRUE(empty->tensor("e").defined());
  const auto none = SafetensorsFile::open(raw("none.safetensors", "{}", ""));
  EXPECT_TRUE(none->entries().empty());
  EXPECT_EQ(none->find("anything"), nullptr);
}

TEST(Safetensors, ReadsEveryFixtureModelFile) {
  int files = 0;
  for (const auto& item : fs::recursive_directory_iterator(testing::fixtures_dir() / "models")) {
    if (item.path().extension() != ".safetensors") continue;
    SCOPED_TRACE(item.path().string());
    const auto file = SafetensorsFile::open(item.path());
    ASSERT_FALSE(file->entries().empty());
    std::uint64_t bytes = 0;
    for (const auto& entry : file->entries()) {
      const Tensor tensor = file->tensor(entry.name);
      EXPECT_EQ(tensor.nbytes(), entry.end - entry.begin);
      EXPECT_TRUE(inside(*file, tensor));
      bytes += tensor.nbytes();
    }
    EXPECT_EQ(file->data_offset() + bytes, fs::file_size(item.path()));
    ++files;
  }
  EXPECT_GE(files, 13);
  const auto model = SafetensorsFile::open(testing::fixtures_dir() / "models/gqa_f32/model.safetensors");
  EXPECT_EQ(model->metadata().at("format"), "pt");
  ASSERT_NE(model->find("model.embed_tokens.weight"), nullptr);
  EXPECT_EQ(model->find("model.embed_tokens.weight")->dtype, DType::F32);
  const auto bf16_model = SafetensorsFile::open(testing::fixtures_dir() / "models/mha_bf16/model.safetensors");
  EXPECT_EQ(bf16_model->find("model.embed_tokens.weight")->dtype, DType::BF16);
}

TEST(CheckpointFiles, OpensASingleFileModel) {
  const fs::path dir = testing::fixtures_dir() / "models/gqa_f32";
  const CheckpointFiles files = CheckpointFiles::open(dir);
  const auto names = files.names();
  EXPECT_EQ(names.size(), 33u);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(files.file_of("model.norm.weight"), dir / "model.safetensors");
  EXPECT_EQ(files.tensor("model.norm.weight").shape(), files.find("model.norm.weight")->shape);
  const auto single = SafetensorsFile::open(dir / "model.safetensors");
  EXPECT_EQ(files.total_bytes(), fs::file_size(dir / "model.safetensors") - single->data_offset());
  EXPECT_EQ(files.find("no.such.tensor"), nullptr);
}

TEST(CheckpointFiles, ShardedFixtureExposesEveryTensorOfItsIndex) {
  const fs::path dir = testing::fixtures_dir() / "models/moe_sharded_f32";
  const auto index = nlohmann::json::parse(read_all(dir / "model.safetensors.index.json"));
  const CheckpointFiles files = CheckpointFiles::open(dir);
  EXPECT_EQ(files.files().size(), 4u);
  std::set<std::string> listed;
  for (const auto& [name, shard] : index["weight_map"].items()) {
    SCOPED_TRACE(name);
    listed.insert(name);
    ASSERT_NE(files.find(name), nullptr);
    EXPECT_EQ(files.file_of(name), dir / shard.get<std::string>());
    const Tensor tensor = files.tensor(name);
    EXPECT_EQ(tensor.shape(), files.find(name)->shape);
    EXPECT_EQ(tensor.nbytes(), files.find(name)->end - files.find(name)->begin);
  }
  const auto names = files.names();
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()), listed);
  EXPECT_EQ(files.total_bytes(), index["metadata"]["total_size"].get<std::uint64_t>());
  // The same views the shard itself gives: no copy on the way through CheckpointFiles.
  const auto shard = SafetensorsFile::open(files.file_of("model.embed_tokens.weight"));
  EXPECT_TRUE(same_bytes(files.tensor("model.embed_tokens.weight"), shard->tensor("model.embed_tokens.weight")));
}

TEST(CheckpointFiles, SurvivesBeingMovedAndOutlivesItsTensors) {
  Tensor kept;
  {
    CheckpointFiles moved = CheckpointFiles::open(testing::fixtures_dir() / "models/moe_sharded_f32");
    const CheckpointFiles files = std::move(moved);
    kept = files.tensor("model.norm.weight");
    EXPECT_EQ(files.find("model.norm.weight")->shape, kept.shape());
  }
  EXPECT_EQ(kept.to_f32_vector().size(), static_cast<std::size_t>(kept.numel()));
}

TEST(SafetensorsWriter, ReplacesAnExistingFileWholeAndLeavesNoTemporaryFile) {
  const fs::path dir = testing::scratch_dir();
  const fs::path path = dir / "model.safetensors";
  write_safetensors(path, {{"big", patterned(DType::F32, {4096}, 1)}});
  const auto old_file = SafetensorsFile::open(path);  // a reader of the old file while it is replaced
  const Tensor old_view = old_file->tensor("big");
  const Tensor small = patterned(DType::I8, {3}, 2);
  write_safetensors(path, {{"small", small}});

  const auto file = SafetensorsFile::open(path);
  ASSERT_EQ(file->entries().size(), 1u);
  EXPECT_TRUE(same_bytes(file->tensor("small"), small));
  EXPECT_EQ(fs::file_size(path), file->data_offset() + 3);
  EXPECT_EQ(dir_listing(dir), std::vector<std::string>{"model.safetensors"});
  EXPECT_TRUE(same_bytes(old_view, patterned(DType::F32, {4096}, 1)));  // the old mapping is untouched
}

TEST(SafetensorsWriter, AFailedWriteLeavesTheOldFileIntact) {
  const fs::path dir = testing::scratch_dir();
  const fs::path path = dir / "model.safetensors";
  write_safetensors(path, {{"w", patterned(DType::F32, {10}, 1)}});
  const std::string before = read_all(path);

  // Refused before writing: an undefined tensor.
  EXPECT_THROW(write_safetensors(path, {{"w", Tensor()}}), Error);
  // Failing half-way through: the producer throws after some bytes went out.
  EXPECT_THROW(write_file_atomically(path,
                                     [](AtomicFileWriter& writer) {
                                       writer.write("partial bytes");
                                       throw Error("disk full (simulated)");
                                     }),
               Error);
  EXPECT_EQ(read_all(path), before);
  EXPECT_EQ(dir_listing(dir), std::vector<std::string>{"model.safetensors"});

  // Into a directory that does not exist: an Error naming the path, nothing created.
  try {
    write_safetensors(dir / "missing" / "out.safetensors", {{"w", patterned(DType::F32, {2}, 1)}});
    ADD_FAILURE() << "no error";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), HasSubstr("missing/out.safetensors"));
  }
  // Over a directory: the final rename fails, and the temporary file is removed.
  fs::create_directory(dir / "taken.safetensors");
  EXPECT_THROW(write_safetensors(dir / "taken.safetensors", {{"w", patterned(DType::F32, {2}, 1)}}), Error);
  EXPECT_EQ(dir_listing(dir), (std::vector<std::string>{"model.safetensors", "taken.safetensors"}));
  EXPECT_EQ(read_all(path), before);
}

TEST(SafetensorsWriter, RefusesEmptyDuplicateReservedAndUndefinedTensors) {
  const fs::path path = testing::scratch_dir() / "bad.safetensors";
  auto error_of = [&](const TensorList& tensors) -> std::string {
    try {
      write_safetensors(path, tensors);
    } catch (const Error& error) {
      return error.what();
    }
    return "(no error)";
  };
  const Tensor ok = patterned(DType::F32, {2}, 1);
  EXPECT_THAT(error_of({{"", ok}}), HasSubstr("empty name"));
  EXPECT_THAT(error_of({{"a", ok}, {"b", ok}, {"a", ok}}), HasSubstr("'a' is given twice"));
  EXPECT_THAT(error_of({{"__metadata__", ok}}), HasSubstr("reserved"));
  EXPECT_THAT(error_of({{"a", ok}, {"hollow", Tensor()}}), HasSubstr("'hollow' is not defined"));
  EXPECT_THAT(error_of({{"a", ok}}), HasSubstr("(no error)"));
  EXPECT_FALSE(fs::exists(path.parent_path() / "bad.safetensors.tmp"));
}

TEST(AtomicWrite, WritesStringsAndStreamsAndKeepsPermissionsOfAReplacedFile) {
  const fs::path dir = testing::scratch_dir();
  const fs::path path = dir / "out.csv";
  write_file_atomically(path, "a,b\n1,2\n");
  EXPECT_EQ(read_all(path), "a,b\n1,2\n");
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  write_file_atomically(path, [](AtomicFileWriter& writer) {
    for (int i = 0; i < 3; ++i) writer.write(std::to_string(i) + "\n");
  });
  EXPECT_EQ(read_all(path), "0\n1\n2\n");
  EXPECT_EQ(fs::status(path).permissions(), fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  EXPECT_EQ(dir_listing(dir), std::vector<std::string>{"out.csv"});
  EXPECT_THROW(write_file_atomically(dir / "", "x"), Error);
}

}  // namespace
}  // namespace dmascope
