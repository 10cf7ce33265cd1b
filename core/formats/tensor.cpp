#include "core/formats/tensor.h"

#include <bit>
#include <cmath>
#include <cstring>

#include "core/base/error.h"

namespace dmascope {

namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  std::size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::F64, "F64", 8}, {DType::F32, "F32", 4}, {DType::F16, "F16", 2}, {DType::BF16, "BF16", 2},
    {DType::I64, "I64", 8}, {DType::I32, "I32", 4}, {DType::I16, "I16", 2}, {DType::I8, "I8", 1},
    {DType::U8, "U8", 1},   {DType::BOOL, "BOOL", 1},
};

const DTypeInfo& info(DType dtype) {
  for (const auto& entry : kDTypes)
    if (entry.dtype == dtype) return entry;
  fail("unknown dtype code {}", static_cast<int>(dtype));
}

// Reads element `index` of raw bytes of `dtype` as double (exact for every supported dtype except large I64).
double load_as_double(const std::byte* bytes, DType dtype, std::int64_t index) {
  auto load = [&]<class T>(T) {
    T value;
    std::memcpy(&value, bytes + index * sizeof(T), sizeof(T));
    return value;
  };
  switch (dtype) {
    case DType::F64: return load(double{});
    case DType::F32: return load(float{});
    case DType::F16: return f16_to_f32(f16{load(std::uint16_t{})});
    case DType::BF16: return bf16_to_f32(bf16{load(std::uint16_t{})});
    case DType::I64: return static_cast<double>(load(std::int64_t{}));
    case DType::I32: return load(std::int32_t{});
    case DType::I16: return load(std::int16_t{});
    case DType::I8: return load(std::int8_t{});
    case DType::U8: return load(std::uint8_t{});
    case DType::BOOL: return load(std::uint8_t{}) != 0 ? 1.0 : 0.0;
  }
  return 0.0;
}

void store_from_double(std::byte* bytes, DType dtype, std::int64_t index, double value) {
  auto store = [&]<class T>(T typed) { std::memcpy(bytes + index * sizeof(T), &typed, sizeof(T)); };
  switch (dtype) {
    case DType::F64: return store(value);
    case DType::F32: return store(static_cast<float>(value));
    case DType::F16: return store(f32_to_f16(static_cast<float>(value)).bits);
    case DType::BF16: return store(f32_to_bf16(static_cast<float>(value)).bits);
    case DType::I64: return store(static_cast<std::int64_t>(value));
    case DType::I32: return store(static_cast<std::int32_t>(value));
    case DType::I16: return store(static_cast<std::int16_t>(value));
    case DType::I8: return store(static_cast<std::int8_t>(value));
    case DType::U8: return store(static_cast<std::uint8_t>(value));
    case DType::BOOL: return store(static_cast<std::uint8_t>(value != 0.0));
  }
}

}  // namespace

std::size_t dtype_size(DType dtype) { return info(dtype).size; }
std::string_view dtype_name(DType dtype) { return info(dtype).name; }

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& entry : kDTypes)
    if (entry.name == name) return entry.dtype;
  return std::nullopt;
}

float bf16_to_f32(bf16 value) { return std::bit_cast<float>(static_cast<std::uint32_t>(value.bits) << 16); }

bf16 f32_to_bf16(float value) {
  std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  if (std::isnan(value)) return bf16{static_cast<std::uint16_t>((bits >> 16) | 0x40)};  // keep it a (quiet) NaN
  bits += 0x7FFF + ((bits >> 16) & 1);  // round to nearest, ties to even
  return bf16{static_cast<std::uint16_t>(bits >> 16)};
}

float f16_to_f32(f16 value) {
  const std::uint32_t sign = static_cast<std::uint32_t>(value.bits & 0x8000) << 16;
  const std::uint32_t exponent = (value.bits >> 10) & 0x1F;
  const std::uint32_t mantissa = value.bits & 0x3FF;
  if (exponent == 0) {  // zero or subnormal: mantissa · 2^-24
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

f16 f32_to_f16(float value) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  const std::uint16_t sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000);
  if (std::isnan(value)) return f16{static_cast<std::uint16_t>(sign | 0x7E00)};
  const float magnitude = std::fabs(value);
  if (magnitude >= 65520.0f) return f16{static_cast<std::uint16_t>(sign | 0x7C00)};  // rounds past the max: inf
  if (magnitude < 6.103515625e-05f) {  // subnormal range: quantize to multiples of 2^-24, ties to even
    const float scaled = magnitude * 16777216.0f;
    return f16{static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(std::nearbyint(scaled)))};
  }
  std::uint32_t rounded = bits & 0x7FFFFFFF;
  rounded += 0xFFF + ((rounded >> 13) & 1);
  return f16{static_cast<std::uint16_t>(sign | ((rounded >> 13) - (112u << 10)))};
}

std::string shape_str(const Shape& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

std::int64_t shape_numel(const Shape& shape) {
  std::int64_t count = 1;
  for (auto extent : shape) count *= extent;
  return count;
}

void throw_size_mismatch(std::size_t count, const Shape& shape) {
  fail("{} values given for a tensor of shape {}", count, shape_str(shape));
}

Tensor Tensor::zeros(DType dtype, Shape shape) {
  for (auto extent : shape)
    if (extent < 0) fail("negative extent in shape {}", shape_str(shape));
  Tensor out;
  out.dtype_ = dtype;
  out.shape_ = std::move(shape);
  const std::size_t bytes = std::max<std::size_t>(out.nbytes(), 1);
  // 64-byte alignment so that any typed view (and vector loads) is aligned.
  auto* storage = static_cast<std::byte*>(::operator new[](bytes, std::align_val_t{64}));
  std::memset(storage, 0, bytes);
  out.owner_ = std::shared_ptr<const void>(storage, [](const void* p) {
    ::operator delete[](const_cast<void*>(p), std::align_val_t{64});
  });
  out.bytes_ = storage;
  out.writable_ = true;
  return out;
}

Tensor Tensor::borrow(std::shared_ptr<const void> owner, const std::byte* bytes, DType dtype, Shape shape) {
  Tensor out;
  out.dtype_ = dtype;
  out.shape_ = std::move(shape);
  out.owner_ = std::move(owner);
  out.bytes_ = bytes;
  out.writable_ = false;
  return out;
}

std::int64_t Tensor::dim(int axis) const {
  const int r = rank();
  const int resolved = axis < 0 ? axis + r : axis;
  if (resolved < 0 || resolved >= r) fail("axis {} out of range for a tensor of shape {}", axis, shape_str(shape_));
  return shape_[static_cast<std::size_t>(resolved)];
}

std::byte* Tensor::mutable_bytes() {
  if (!writable_) fail("tensor of shape {} is a read-only view", shape_str(shape_));
  return const_cast<std::byte*>(bytes_);
}

void Tensor::check_access(DType wanted, std::size_t alignment) const {
  if (wanted != dtype_) fail("tensor holds {} but was read as {}", dtype_name(dtype_), dtype_name(wanted));
  if (reinterpret_cast<std::uintptr_t>(bytes_) % alignment != 0)
    fail("{} tensor of shape {} is not aligned for typed access", dtype_name(dtype_), shape_str(shape_));
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return *this;
  Tensor out = zeros(dtype, shape_);
  const std::int64_t count = numel();
  std::byte* dst = out.mutable_bytes();
  if (dtype_ == DType::BF16 && dtype == DType::F32) {  // the hot case (loading bf16 weights): no double detour
    for (std::int64_t i = 0; i < count; ++i) {
      std::uint16_t bits;
      std::memcpy(&bits, bytes_ + 2 * i, 2);
      const float value = bf16_to_f32(bf16{bits});
      std::memcpy(dst + 4 * i, &value, 4);
    }
    return out;
  }
  for (std::int64_t i = 0; i < count; ++i) store_from_double(dst, dtype, i, load_as_double(bytes_, dtype_, i));
  return out;
}

Tensor Tensor::reshape(Shape shape) const {
  if (shape_numel(shape) != numel()) fail("cannot reshape {} to {}", shape_str(shape_), shape_str(shape));
  Tensor out = *this;
  out.shape_ = std::move(shape);
  return out;
}

std::vector<float> Tensor::to_f32_vector() const {
  std::vector<float> values(static_cast<std::size_t>(numel()));
  for (std::int64_t i = 0; i < numel(); ++i) values[i] = static_cast<float>(load_as_double(bytes_, dtype_, i));
  return values;
}

}  // namespace dmascope
