// Malformed safetensors files and checkpoint indexes, written byte by byte. Each must be refused with a
// dmascope::Error whose message names the file and the field or tensor at fault — never a crash, never a silent read.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>

#include "core/formats/checkpoint_files.h"
#include "core/base/error.h"
#include "core/formats/safetensors.h"
#include "core/model/doge_forward.h"
#include "tests/test_paths.h"

namespace dmascope {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

// Writes `u64 length + header + data`; `length` overrides the true header length to forge bad prefixes.
fs::path write_raw(const fs::path& path, std::string_view header, std::string_view data = "",
                   std::optional<std::uint64_t> length = std::nullopt) {
  const std::uint64_t prefix = length.value_or(header.size());
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((prefix >> (8 * i)) & 0xFF);  // little-endian
  std::ofstream out(path, std::ios::binary);
  out.write(bytes, 8);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  return path;
}

fs::path write_text(const fs::path& path, std::string_view text) {
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::string open_error(const fs::path& path) {
  try {
    SafetensorsFile::open(path);
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

std::string checkpoint_error(const fs::path& dir) {
  try {
    CheckpointFiles::open(dir);
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

// A well-formed entry "w": F32 [2] at [0, 8), and the 8 data bytes it needs.
constexpr std::string_view kEntry = R"("w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
const std::string kData(8, '\x01');

// (fmt rather than operator+: g++ 12 gives false -Wrestrict warnings on "literal" + std::string.)
std::string header_with(std::string_view entries) { return fmt::format("{{{}}}", entries); }

class MalformedSafetensors : public ::testing::Test {
 protected:
  void SetUp() override { path_ = testing::scratch_dir() / "bad.safetensors"; }
  std::string refuse(std::string_view header, std::string_view data = "",
                     std::optional<std::uint64_t> length = std::nullopt) {
    return open_error(write_raw(path_, header, data, length));
  }
  fs::path path_;
};

TEST_F(MalformedSafetensors, SanityTheBaseEntryIsAccepted) {
  EXPECT_EQ(refuse(header_with(kEntry), kData), "(no error)");
}

TEST_F(MalformedSafetensors, EmptyFile) {
  write_text(path_, "");
  EXPECT_THAT(open_error(path_), AllOf(HasSubstr("bad.safetensors"), HasSubstr("empty")));
}

TEST_F(MalformedSafetensors, FileShorterThanTheLengthPrefix) {
  write_text(path_, std::string("\x05\x00\x00", 3));
  EXPECT_THAT(open_error(path_), AllOf(HasSubstr("bad.safetensors"), HasSubstr("3 bytes"), HasSubstr("header length")));
}

TEST_F(MalformedSafetensors, AbsurdHeaderLength) {
  EXPECT_THAT(refuse(header_with(kEntry), kData, std::uint64_t{1} << 40),
              AllOf(HasSubstr("bad.safetensors"), HasSubstr("header length 1099511627776"), HasSubstr("absurd")));
  EXPECT_THAT(refuse(header_with(kEntry), kData, ~std::uint64_t{0}), HasSubstr("absurd"));
}

TEST_F(MalformedSafetensors, HeaderLengthPastEndOfFile) {
  const std::string header = header_with(kEntry);
  EXPECT_THAT(refuse(header, "", header.size() + 100),
              AllOf(HasSubstr("bad.safetensors"), HasSubstr("header length"), HasSubstr("past the end of the file")));
}

TEST_F(MalformedSafetensors, TruncatedData) {
  EXPECT_THAT(refuse(header_with(kEntry), kData.substr(0, 5)),
              AllOf(HasSubstr("bad.safetensors"), HasSubstr("'w'"), HasSubstr("data_offsets"),
                    HasSubstr("past the end of the data section")));
}

TEST_F(MalformedSafetensors, HeaderNotStartingWithBrace) {
  EXPECT_THAT(refuse(fmt::format(" {}", header_with(kEntry)), kData), AllOf(HasSubstr("bad.safetensors"), HasSubstr("'{'")));
  EXPECT_THAT(refuse("", ""), AllOf(HasSubstr("bad.safetensors"), HasSubstr("empty header")));
}

TEST_F(MalformedSafetensors, HeaderNotAnObject) {
  EXPECT_THAT(refuse("[1, 2, 3]"), AllOf(HasSubstr("bad.safetensors"), HasSubstr("JSON object")));
}

TEST_F(MalformedSafetensors, HeaderNotValidJson) {
  EXPECT_THAT(refuse(R"({"w": {"dtype": "F32", )", kData),
              AllOf(HasSubstr("bad.safetensors"), HasSubstr("header"), HasSubstr("not valid JSON")));
  EXPECT_THAT(refuse(header_with(kEntry) + "trailing", kData), HasSubstr("not valid JSON"));
  EXPECT_THAT(refuse("{\"\xff\xfe\":1}"), HasSubstr("not valid JSON"));  // not UTF-8
}

TEST_F(MalformedSafetensors, DuplicateKeys) {
  EXPECT_THAT(refuse(header_with(std::string(kEntry) + "," + std::string(kEntry)), kData),
              AllOf(HasSubstr("bad.safetensors"), HasSubstr("duplicate key 'w'")));
  EXPECT_THAT(refuse(R"({"w":{"dtype":"F32","dtype":"I32","shape":[2],"data_offsets":[0,8]}})", kData),
              AllOf(HasSubstr("bad.safetensors"), HasSubstr("duplicate key 'dtype'")));
}

TEST_F(MalformedSafetensors, NestingDeeperThanAHeaderEverNeeds) {
  EXPECT_THAT(refuse(R"({"w":{"x":[[[[[[[[[[1]]]]]]]]]]}})"),
              AllOf(HasSubstr("bad.safetensors"), HasSubstr("nested deeper")));
}

TEST_F(MalformedSafetensors, EntryNotAnObject) {
  EXPECT_THAT(refuse(R"({"w": [0, 8]})"),
              AllOf(HasSubstr("bad.safetensors"), HasSubstr("tensor 'w'"), HasSubstr("must be an object")));
}

TEST_F(MalformedSafetensors, MissingDtype) {
  EXPECT_THAT(refuse(R"({"w":{"shape":[2],"data_offsets":[0,8]}})", kData),
              AllOf(HasSubstr("bad.safetensors"), HasSubstr("tensor 'w'"), HasSubstr("'dtype' is missing")));
}

TEST_F(MalformedSafetensors, UnknownDtype) {
  EXPECT_THAT(refuse(R"({"w":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}})", kData),
              AllOf(HasSubstr("bad.safetensors"), HasSubstr("tensor 'w'"), HasSubstr("F8_E4M3"),
                    HasSubstr("not supported")));
  EXPECT_THAT(refuse(R"({"w":{"dtype":32,"shape":[2],"data_offsets":[0,8]}})", kData),
              AllOf(HasSubstr("tensor 'w'"), HasSubstr("'dtype' must be a string")));
}

TEST_F(MalformedSafetensors, NegativeShape) {
  EXPECT_THAT(refuse(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", kData),
              AllOf(HasSubstr("bad.safetensors"), HasSubstr("tensor 'w'"), HasSubstr("'shape'"),
                    HasSubstr("non-negative integers")));
}

TEST_F(MalformedSafetensors, ShapeNotAnArrayOfIntegers) {
  EXPECT_THAT(refuse(R"({"w":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", kData),
              AllOf(HasSubstr("bad.safetensors"), HasSubstr("tensor 'w'"), HasSubstr("'shape'")));
  EXPECT_THAT(refuse(R"({"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", kData),
              AllOf(HasSubstr("tensor 'w'"), HasSubstr("'shape'")));
  EXPECT_THAT(refuse(R"({"w":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}})", kData),
              AllOf(HasSubstr("tensor 'w'"), HasSubstr("'shape'")));
  EXPECT_THAT(refuse(R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", kData),
              AllOf(HasSubstr("tensor 'w'"), HasSubstr("'shape' is missing")));
}

TEST_F(MalformedSafetensors, ShapeWhoseElementCountOverflows) {
  EXPECT_THAT(refuse(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", kData),
              AllOf(HasSubstr("bad.safetensors"), HasSubstr("tensor 'w'"), HasSubstr("overflow")));
  EXPECT_THAT(refuse(R"({"w":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8]}})", kData),
              AllOf(HasSubstr("tensor 'w'"), HasSubstr("'shape'")));
  // numel fits, numel × 8 bytes does not.
  EXPECT_THAT(refuse(R"({"w":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}})", kData),
              AllOf(HasSubstr("tensor 'w'"), HasSubstr("data_offsets")));
}

TEST_F(MalformedSafetensors, DataOffsetsNotTwoNonNegativeIntegers) {
  for (std::string_view offsets : {"[0]", "[0,8,16]", "[-1,7]", "[0.0,8]", "\"0-8\"", "{\"begin\":0}"}) {
    SCOPED_TRACE(offsets);
    EXPECT_THAT(refuse(fmt::format(R"({{"w":{{"dtype":"F32","shape":[2],"data_offsets":{}}}}})", offsets), kData),
                AllOf(HasSubstr("bad.safetensors"), HasSubstr("tensor 'w'"), HasSubstr("'data_offsets'")));
  }
  EXPECT_THAT(refuse(R"({"w":{"dtype":"F32","shape":[2]}})", kData),
              AllOf(HasSubstr("tensor 'w'"), HasSubstr("'data_offsets' is missing")));
}

TEST_F(MalformedSafetensors, DataOffsetsReversed) {
  EXPECT_THAT(refuse(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", kData),
              AllOf(HasSubstr("bad.safetensors"), HasSubstr("tensor 'w'"), HasSubstr("[8, 0] ends before it begins")));
}

TEST_F(MalformedSafetensors, DataOffsetsOutOfRange) {
  EXPECT_THAT(refuse(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", kData),
              AllOf(HasSubstr("bad.safetensors"), HasSubstr("tensor 'w'"), HasSubstr("past the end of the data")));
  EXPECT_THAT(refuse(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[18446744073709551608,18446744073709551615]}})",
                     kData),
              AllOf(HasSubstr("tensor 'w'"), HasSubstr("past the end of the data")));
}

TEST_F(MalformedSafetensors, ByteSizeDisagreesWithShapeAndDtype) {
  EXPECT_THAT(refuse(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", kData),
              AllOf(HasSubstr("bad.safetensors"), HasSubstr("tensor 'w'"), HasSubstr("spans 8 bytes"),
                    HasSubstr("F32 [3] needs 3 elements × 4 bytes")));
}

TEST_F(MalformedSafetensors, OverlappingTensors) {
  EXPECT_THAT(refuse(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                     R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                     kData),
              AllOf(HasSubstr("bad.safetensors"), HasSubstr("tensor 'b'"), HasSubstr("overlaps tensor 'a'")));
  // Two names for the same bytes are an overlap too.
  EXPECT_THAT(refuse(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                     R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                     kData),
              HasSubstr("overlaps tensor 'a'"));
}

TEST_F(MalformedSafetensors, HoleInTheDataSection) {
  EXPECT_THAT(refuse(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                     R"("b":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}})",
                     kData),
              AllOf(HasSubstr("bad.safetensors"), HasSubstr("hole"), HasSubstr("[4, 6)"), HasSubstr("tensor 'b'")));
  EXPECT_THAT(refuse(R"({"b":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}})", kData),
              AllOf(HasSubstr("hole"), HasSubstr("[0, 6)"), HasSubstr("tensor 'b'")));
}

TEST_F(MalformedSafetensors, TrailingBytesAfterTheLastTensor) {
  EXPECT_THAT(refuse(header_with(kEntry), kData + "xyz"),
              AllOf(HasSubstr("bad.safetensors"), HasSubstr("trailing bytes [8, 11)"), HasSubstr("tensor 'w'")));
}

TEST_F(MalformedSafetensors, MetadataNotAnObjectOfStrings) {
  EXPECT_THAT(refuse(header_with(std::string(kEntry) + R"(,"__metadata__":{"format":"pt","step":1000})"), kData),
              AllOf(HasSubstr("bad.safetensors"), HasSubstr("__metadata__"), HasSubstr("'step'"),
                    HasSubstr("string value")));
  EXPECT_THAT(refuse(header_with(std::string(kEntry) + R"(,"__metadata__":["pt"])"), kData),
              AllOf(HasSubstr("bad.safetensors"), HasSubstr("__metadata__"), HasSubstr("object")));
}

TEST_F(MalformedSafetensors, MissingTensorRequested) {
  const auto file = SafetensorsFile::open(write_raw(path_, header_with(kEntry), kData));
  try {
    file->tensor("model.norm.weight");
    ADD_FAILURE() << "no error";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), AllOf(HasSubstr("bad.safetensors"), HasSubstr("'model.norm.weight'")));
  }
}

TEST_F(MalformedSafetensors, NotARegularFileOrMissing) {
  fs::create_directory(path_);
  EXPECT_THAT(open_error(path_), AllOf(HasSubstr("bad.safetensors"), HasSubstr("not a regular file")));
  EXPECT_THAT(open_error(path_.parent_path() / "absent.safetensors"),
              AllOf(HasSubstr("absent.safetensors"), HasSubstr("cannot open")));
}

// A checkpoint truncated while its model is loaded (another process rewriting it). The weights were read, not mapped,
// so the forward runs on what was loaded instead of dying of SIGBUS in a projection; reading the file again is an
// Error that names the file and the tensor.
TEST(CheckpointTruncatedAfterLoad, ForwardStillRunsAndARereadNamesTheFile) {
  const fs::path dir = testing::scratch_dir() / "gqa_f32";
  fs::copy(testing::fixtures_dir() / "models/gqa_f32", dir, fs::copy_options::recursive);
  const DogeModel model = DogeModel::load(dir);
  const auto file = SafetensorsFile::open(dir / "model.safetensors");
  const std::vector<std::int32_t> ids = {1, 2, 3, 4, 5};
  const std::vector<float> before = doge_forward(model, ids, ForwardOptions{}).logits.to_f32_vector();
  fs::resize_file(dir / "model.safetensors", 64);
  EXPECT_EQ(doge_forward(model, ids, ForwardOptions{}).logits.to_f32_vector(), before);
  try {
    file->read_tensor("model.norm.weight");
    ADD_FAILURE() << "no error";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(),
                AllOf(HasSubstr("model.safetensors"), HasSubstr("'model.norm.weight'"), HasSubstr("truncated")));
  }
}

// Sharded checkpoints: two good shards and an index, each test breaking one thing.
class MalformedCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::scratch_dir();
    write_safetensors(dir_ / "shard-1.safetensors", {{"a", Tensor::zeros(DType::F32, {2})}});
    write_safetensors(dir_ / "shard-2.safetensors", {{"b", Tensor::zeros(DType::F32, {3})}});
  }
  std::string refuse_index(std::string_view index_json) {
    write_text(dir_ / "model.safetensors.index.json", index_json);
    return checkpoint_error(dir_);
  }
  fs::path dir_;
};

TEST_F(MalformedCheckpoint, SanityTheBaseIndexIsAccepted) {
  EXPECT_EQ(refuse_index(R"({"weight_map":{"a":"shard-1.safetensors","b":"shard-2.safetensors"}})"), "(no error)");
}

TEST_F(MalformedCheckpoint, IndexNotValidJson) {
  EXPECT_THAT(refuse_index(R"({"weight_map":{"a":"shard-1.safetensors",)"),
              AllOf(HasSubstr("model.safetensors.index.json"), HasSubstr("not valid JSON")));
  EXPECT_THAT(refuse_index(R"(["shard-1.safetensors"])"),
              AllOf(HasSubstr("model.safetensors.index.json"), HasSubstr("must be an object")));
}

TEST_F(MalformedCheckpoint, IndexWithoutWeightMap) {
  EXPECT_THAT(refuse_index(R"({"metadata":{"total_size":20}})"),
              AllOf(HasSubstr("model.safetensors.index.json"), HasSubstr("'weight_map' is missing")));
  EXPECT_THAT(refuse_index(R"({"weight_map":["shard-1.safetensors"]})"),
              AllOf(HasSubstr("model.safetensors.index.json"), HasSubstr("'weight_map' must be an object")));
  EXPECT_THAT(refuse_index(R"({"weight_map":{}})"),
              AllOf(HasSubstr("model.safetensors.index.json"), HasSubstr("'weight_map' lists no tensors")));
}

TEST_F(MalformedCheckpoint, IndexShardNameNotAString) {
  EXPECT_THAT(refuse_index(R"({"weight_map":{"a":1}})"),
              AllOf(HasSubstr("model.safetensors.index.json"), HasSubstr("tensor 'a'"), HasSubstr("string")));
}

TEST_F(MalformedCheckpoint, IndexDuplicateTensorName) {
  EXPECT_THAT(refuse_index(R"({"weight_map":{"a":"shard-1.safetensors","a":"shard-2.safetensors"}})"),
              AllOf(HasSubstr("model.safetensors.index.json"), HasSubstr("duplicate key 'a'")));
}

TEST_F(MalformedCheckpoint, IndexPointsToAMissingShard) {
  EXPECT_THAT(refuse_index(R"({"weight_map":{"a":"shard-1.safetensors","b":"shard-9.safetensors"}})"),
              AllOf(HasSubstr("model.safetensors.index.json"), HasSubstr("tensor 'b'"),
                    HasSubstr("shard-9.safetensors"), HasSubstr("does not exist")));
}

TEST_F(MalformedCheckpoint, IndexShardOutsideTheModelDirectory) {
  for (std::string_view shard : {"../shard-1.safetensors", "/etc/passwd", "sub/shard-1.safetensors", "..", "",
                                 "shard-1.safetensors\\u0000.txt"}) {
    SCOPED_TRACE(shard);
    EXPECT_THAT(refuse_index(fmt::format(R"({{"weight_map":{{"a":"{}"}}}})", shard)),
                AllOf(HasSubstr("model.safetensors.index.json"), HasSubstr("tensor 'a'"),
                      HasSubstr("not a plain file name")));
  }
  // A NUL in a name must not cut the message short.
  EXPECT_THAT(refuse_index(R"({"weight_map":{"a":"x\u0000y"}})"), HasSubstr("'x\\x00y', which is not a plain"));
}

TEST_F(MalformedCheckpoint, TensorMissingFromItsShard) {
  EXPECT_THAT(refuse_index(R"({"weight_map":{"a":"shard-1.safetensors","b":"shard-1.safetensors"}})"),
              AllOf(HasSubstr("model.safetensors.index.json"), HasSubstr("tensor 'b'"),
                    HasSubstr("shard-1.safetensors"), HasSubstr("does not hold it")));
}

TEST_F(MalformedCheckpoint, TensorStoredInTwoShards) {
  write_safetensors(dir_ / "shard-2.safetensors",
                    {{"a", Tensor::zeros(DType::F32, {2})}, {"b", Tensor::zeros(DType::F32, {3})}});
  EXPECT_THAT(refuse_index(R"({"weight_map":{"a":"shard-1.safetensors","b":"shard-2.safetensors"}})"),
              AllOf(HasSubstr("model.safetensors.index.json"), HasSubstr("tensor 'a'"),
                    HasSubstr("shard-1.safetensors"), HasSubstr("shard-2.safetensors")));
}

TEST_F(MalformedCheckpoint, MalformedShard) {
  write_raw(dir_ / "shard-2.safetensors", R"({"b":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})", "short");
  EXPECT_THAT(refuse_index(R"({"weight_map":{"a":"shard-1.safetensors","b":"shard-2.safetensors"}})"),
              AllOf(HasSubstr("shard-2.safetensors"), HasSubstr("tensor 'b'"), HasSubstr("data_offsets")));
}

TEST_F(MalformedCheckpoint, MissingTensorRequested) {
  write_text(dir_ / "model.safetensors.index.json",
             R"({"weight_map":{"a":"shard-1.safetensors","b":"shard-2.safetensors"}})");
  const CheckpointFiles files = CheckpointFiles::open(dir_);
  for (auto call : {+[](const CheckpointFiles& f) { f.tensor("lm_head.weight"); },
                    +[](const CheckpointFiles& f) { f.file_of("lm_head.weight"); }}) {
    try {
      call(files);
      ADD_FAILURE() << "no error";
    } catch (const Error& error) {
      EXPECT_THAT(error.what(), AllOf(HasSubstr("model.safetensors.index.json"), HasSubstr("'lm_head.weight'")));
    }
  }
}

TEST(MalformedModelDirectory, OnlyPytorchPickles) {
  const fs::path dir = testing::scratch_dir();
  write_text(dir / "pytorch_model.bin", "PK\x03\x04 not read");
  write_text(dir / "config.json", "{}");
  EXPECT_THAT(checkpoint_error(dir),
              AllOf(HasSubstr(dir.string()), HasSubstr("model.safetensors"), HasSubstr("pytorch_model.bin"),
                    HasSubstr("PyTorch pickle"), HasSubstr("not read")));
}

TEST(MalformedModelDirectory, NoWeightsAtAll) {
  const fs::path dir = testing::scratch_dir();
  EXPECT_THAT(checkpoint_error(dir), AllOf(HasSubstr(dir.string()), HasSubstr("empty")));
  write_text(dir / "README.md", "hi");
  write_text(dir / "consolidated.safetensors", "");
  EXPECT_THAT(checkpoint_error(dir),
              AllOf(HasSubstr("model.safetensors.index.json"), HasSubstr("consolidated.safetensors"),
                    HasSubstr("other names")));
  EXPECT_THAT(checkpoint_error(dir / "nowhere"), AllOf(HasSubstr("nowhere"), HasSubstr("does not exist")));
}

TEST(MalformedModelDirectory, BrokenSingleFileNamesIt) {
  const fs::path dir = testing::scratch_dir();
  write_raw(dir / "model.safetensors", R"({"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", kData);
  EXPECT_THAT(checkpoint_error(dir), AllOf(HasSubstr("model.safetensors"), HasSubstr("tensor 'w'"), HasSubstr("Q4")));
}

}  // namespace
}  // namespace dmascope
