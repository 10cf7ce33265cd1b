// The mask export (core/formats/mask_export.h): a forward's masks written as safetensors and read back with core's reader,
// tensor by tensor and byte for byte, with the settings in the metadata; a missing capture is an error naming the
// layer, and a failed write leaves no file behind.
#include <gtest/gtest.h>

#include <cstring>

#include "core/base/error.h"
#include "core/formats/mask_export.h"
#include "core/model/random_model.h"
#include "core/formats/safetensors.h"
#include "test_paths.h"

namespace dmascope {
namespace {

struct SmallForward {
  DogeModel model;
  std::vector<std::int32_t> ids;
  ForwardResult forward;
};

SmallForward small_forward(const std::filesystem::path& dir) {
  write_random_doge(dir / "model", random_model_preset("tiny"), DType::F32, 3);
  SmallForward run{DogeModel::load(dir / "model"), {}, {}};
  for (std::int32_t n = 0; n < 40; ++n) run.ids.push_back((n * 7 + 3) % 50);
  ForwardOptions options;
  options.window = 8;
  run.forward = doge_forward(run.model, run.ids, options);
  return run;
}

TEST(MaskExport, WrittenFileReadsBackWithCoresReaderTensorForTensor) {
  const auto dir = testing::scratch_dir();
  const SmallForward run = small_forward(dir);
  const std::int64_t L = static_cast<std::int64_t>(run.ids.size()), Hb = run.model.weights.bias_heads;
  const auto path = dir / "masks.safetensors";
  write_mask_export(path, run.forward, run.ids,
                    {{"window", "8"}, {"mask_variant", "per_row_topk"}, {"model", "tiny"}, {"format", "overridden"}});

  const auto file = SafetensorsFile::open(path);
  ASSERT_EQ(file->entries().size(), run.forward.layers.size() * 2 + 1);
  for (std::size_t layer = 0; layer < run.forward.layers.size(); ++layer) {
    const LayerCapture& capture = run.forward.layers[layer];
    const Tensor death = file->tensor(fmt::format("layers.{}.death", layer));
    const Tensor beta = file->tensor(fmt::format("layers.{}.dyn_bias", layer));
    EXPECT_EQ(death.dtype(), DType::I32);
    EXPECT_EQ(beta.dtype(), DType::F32);
    EXPECT_EQ(death.shape(), (Shape{Hb, L}));
    EXPECT_EQ(beta.shape(), (Shape{Hb, L}));
    EXPECT_EQ(std::memcmp(death.bytes(), capture.death.bytes(), death.nbytes()), 0) << "layer " << layer;
    EXPECT_EQ(std::memcmp(beta.bytes(), capture.dyn_bias.bytes(), beta.nbytes()), 0) << "layer " << layer;
    // The death indices are a mask: j ≤ death[j] ≤ L.
    for (std::int64_t n = 0; n < Hb * L; ++n) {
      const std::int32_t d = death.data<std::int32_t>()[n];
      EXPECT_GE(d, n % L);
      EXPECT_LE(d, L);
    }
  }
  const Tensor ids = file->tensor("token_ids");
  EXPECT_EQ(ids.shape(), (Shape{L}));
  EXPECT_EQ(std::vector<std::int32_t>(ids.data<std::int32_t>(), ids.data<std::int32_t>() + L), run.ids);
  const auto& metadata = file->metadata();
  EXPECT_EQ(metadata.at("window"), "8");
  EXPECT_EQ(metadata.at("mask_variant"), "per_row_topk");
  EXPECT_EQ(metadata.at("model"), "tiny");
  EXPECT_EQ(metadata.at("format"), kMaskExportFormat);  // the export's own keys win
  EXPECT_EQ(metadata.at("length"), std::to_string(L));
  EXPECT_EQ(metadata.at("layers"), std::to_string(run.forward.layers.size()));
}

TEST(MaskExport, MissingCaptureIsAnErrorNamingTheLayerAndNothingIsWritten) {
  const auto dir = testing::scratch_dir();
  SmallForward run = small_forward(dir);
  run.forward.layers[1].death = Tensor();
  const auto path = dir / "masks.safetensors";
  try {
    write_mask_export(path, run.forward, run.ids, {});
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("layer 1 has no death"), std::string::npos) << error.what();
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(MaskExport, AnUnwritableFolderIsAnError) {
  const auto dir = testing::scratch_dir();
  const SmallForward run = small_forward(dir);
  EXPECT_THROW(write_mask_export(dir / "no/such/folder/masks.safetensors", run.forward, run.ids, {}), Error);
}

}  // namespace
}  // namespace dmascope
