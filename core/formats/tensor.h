// Host tensors: a dtype, a shape and bytes that are either owned or borrowed (a zero-copy view into a memory-mapped
// checkpoint, kept alive by a shared owner). Row-major and contiguous always: the library has no strided views, so
// a tensor's bytes are exactly numel × dtype_size.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dmascope {

enum class DType : std::uint8_t { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

std::size_t dtype_size(DType dtype);
std::string_view dtype_name(DType dtype);  // the safetensors spelling: "F32", "BF16", ...
std::optional<DType> dtype_from_name(std::string_view name);

// 16-bit floats are stored as their bit patterns; convert with the functions below.
struct bf16 { std::uint16_t bits; };
struct f16 { std::uint16_t bits; };

float bf16_to_f32(bf16 value);
bf16 f32_to_bf16(float value);  // round to nearest even, NaN stays NaN
// The nearest bf16 value, as a float: what a bf16 op's result holds.
inline float round_to_bf16(float value) { return bf16_to_f32(f32_to_bf16(value)); }
float f16_to_f32(f16 value);
f16 f32_to_f16(float value);    // round to nearest even, overflow to ±inf

using Shape = std::vector<std::int64_t>;
std::string shape_str(const Shape& shape);  // "[1, 4, 16]"
std::int64_t shape_numel(const Shape& shape);

[[noreturn]] void throw_size_mismatch(std::size_t count, const Shape& shape);

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<double>() { return DType::F64; }
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<f16>() { return DType::F16; }
template <> constexpr DType dtype_of<bf16>() { return DType::BF16; }
template <> constexpr DType dtype_of<std::int64_t>() { return DType::I64; }
template <> constexpr DType dtype_of<std::int32_t>() { return DType::I32; }
template <> constexpr DType dtype_of<std::uint8_t>() { return DType::U8; }

class Tensor {
 public:
  Tensor() = default;

  // A new zero-filled tensor that owns its bytes.
  static Tensor zeros(DType dtype, Shape shape);
  // Copies `values` into a new owned tensor of the given shape (numel must match).
  template <class T> static Tensor from_vector(const std::vector<T>& values, Shape shape);
  // A read-only view of bytes that `owner` keeps alive; no copy is made.
  static Tensor borrow(std::shared_ptr<const void> owner, const std::byte* bytes, DType dtype, Shape shape);

  bool defined() const { return bytes_ != nullptr || shape_numel(shape_) == 0; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  std::int64_t dim(int axis) const;  // negative axes count from the end
  std::int64_t numel() const { return shape_numel(shape_); }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype_); }
  bool writable() const { return writable_; }

  const std::byte* bytes() const { return bytes_; }
  std::byte* mutable_bytes();  // throws for a borrowed (read-only) tensor

  // Typed access; throws if T does not match the dtype or the bytes are not aligned for T.
  template <class T> const T* data() const;
  template <class T> T* mutable_data();

  // A copy converted to `dtype` (any float or integer dtype to any other). Same dtype: shares the bytes.
  Tensor to(DType dtype) const;
  // The same bytes under another shape with the same numel.
  Tensor reshape(Shape shape) const;
  // All elements as float (a copy; integer and bool values are converted exactly where representable).
  std::vector<float> to_f32_vector() const;

 private:
  void check_access(DType wanted, std::size_t alignment) const;

  DType dtype_ = DType::F32;
  Shape shape_;
  std::shared_ptr<const void> owner_;
  const std::byte* bytes_ = nullptr;
  bool writable_ = false;
};

template <class T>
const T* Tensor::data() const {
  check_access(dtype_of<T>(), alignof(T));
  return reinterpret_cast<const T*>(bytes_);
}

template <class T>
T* Tensor::mutable_data() {
  check_access(dtype_of<T>(), alignof(T));
  return reinterpret_cast<T*>(mutable_bytes());
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, Shape shape) {
  Tensor out = zeros(dtype_of<T>(), std::move(shape));
  if (static_cast<std::int64_t>(values.size()) != out.numel()) throw_size_mismatch(values.size(), out.shape());
  std::copy(values.begin(), values.end(), out.mutable_data<T>());
  return out;
}

}  // namespace dmascope
