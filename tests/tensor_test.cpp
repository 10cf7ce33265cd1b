#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "core/base/error.h"
#include "core/formats/tensor.h"

namespace dmascope {
namespace {

TEST(Tensor, Bf16RoundTripIsExactForRepresentableValuesAndRoundsToNearestEven) {
  for (float value : {0.0f, 1.0f, -2.5f, 3.140625f, 65504.0f, 1e-30f}) {
    const bf16 stored = f32_to_bf16(value);
    EXPECT_EQ(f32_to_bf16(bf16_to_f32(stored)).bits, stored.bits);
  }
  // 1 + 2^-8 lies halfway between bf16 neighbours 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f + 1.0f / 256.0f)), 1.0f);
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f + 3.0f / 256.0f)), 1.0f + 4.0f / 256.0f);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(Tensor, F16ConversionMatchesIeeeHalfIncludingSubnormalsAndOverflow) {
  EXPECT_EQ(f32_to_f16(1.0f).bits, 0x3C00);
  EXPECT_EQ(f32_to_f16(-2.0f).bits, 0xC000);
  EXPECT_EQ(f32_to_f16(65504.0f).bits, 0x7BFF);
  EXPECT_EQ(f32_to_f16(70000.0f).bits, 0x7C00);
  EXPECT_EQ(f32_to_f16(5.9604645e-08f).bits, 0x0001);  // smallest subnormal
  EXPECT_EQ(f16_to_f32(f16{0x0001}), 5.9604645e-08f);
  EXPECT_EQ(f16_to_f32(f16{0x3555}), 0.333251953125f);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1000.0f, 1000.0f);
  for (int i = 0; i < 10000; ++i) {
    const float value = dist(rng);
    const float back = f16_to_f32(f32_to_f16(value));
    EXPECT_LE(std::fabs(back - value), std::fabs(value) * (1.0f / 2048.0f)) << value;  // half an ulp of 10 bits
  }
}

TEST(Tensor, ConversionBetweenDtypesKeepsValues) {
  const Tensor values = Tensor::from_vector<float>({1.5f, -2.0f, 3.0f, 0.25f}, {2, 2});
  EXPECT_EQ(values.to(DType::BF16).to(DType::F32).to_f32_vector(), values.to_f32_vector());
  EXPECT_EQ(values.to(DType::F16).to(DType::F32).to_f32_vector(), values.to_f32_vector());
  EXPECT_EQ(values.to(DType::I64).to_f32_vector(), (std::vector<float>{1.0f, -2.0f, 3.0f, 0.0f}));
  EXPECT_EQ(values.to(DType::F32).bytes(), values.bytes()) << "same dtype must share, not copy";
}

TEST(Tensor, TypedAccessChecksDtypeAndShapeErrorsNameTheShape) {
  Tensor values = Tensor::zeros(DType::F32, {3, 4});
  EXPECT_THROW(values.data<std::int64_t>(), Error);
  EXPECT_THROW(values.reshape({5}), Error);
  EXPECT_EQ(values.reshape({12}).numel(), 12);
  try {
    values.reshape({5});
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("[3, 4]"), std::string::npos);
  }
}

TEST(Tensor, BorrowedTensorsAreReadOnly) {
  auto owner = std::make_shared<std::vector<float>>(4, 1.0f);
  Tensor view = Tensor::borrow(owner, reinterpret_cast<const std::byte*>(owner->data()), DType::F32, {4});
  EXPECT_EQ(view.data<float>()[3], 1.0f);
  EXPECT_THROW(view.mutable_data<float>(), Error);
}

}  // namespace
}  // namespace dmascope
