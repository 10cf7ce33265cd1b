#include "core/lab/dam.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/base/error.h"
#include "core/lab/strategy.h"

namespace dmascope {

void DamSettings::validate() const {
  if (capture_length < 1) fail("DAM: capture length {} must be ≥ 1", capture_length);
  if (!(lambda >= 0.0) || !std::isfinite(lambda)) fail("DAM: Box-Cox λ {} must be finite and ≥ 0", lambda);
  if (!std::isfinite(tau)) fail("DAM: τ {} must be finite", tau);
  if (!(mu > 0.0 && mu <= 1.0)) fail("DAM: μ {} must be in (0, 1]", mu);
  if (!(epsilon > 0.0 && epsilon < 1.0)) fail("DAM: ε {} must be in (0, 1)", epsilon);
}

bool DamHeadMask::keeps(std::int64_t i, std::int64_t j) const {
  const std::int64_t Lc = capture_length;
  if (j < 0 || j > i) return false;
  if (i < Lc) return true_mask[static_cast<std::size_t>(i * Lc + j)] != 0;
  const std::int64_t offset = i - j;
  return (offset < Lc && diagonal_matched[static_cast<std::size_t>(offset)] != 0) ||
         (j < Lc && vertical_matched[static_cast<std::size_t>(j)] != 0);
}

void DamHeadMask::row_keys(std::int64_t i, std::vector<std::int32_t>& keys) const {
  keys.clear();
  const std::int64_t Lc = capture_length;
  if (i < Lc) {
    const std::uint8_t* row = true_mask.data() + i * Lc;
    for (std::int64_t j = 0; j <= i; ++j)
      if (row[j] != 0) keys.push_back(static_cast<std::int32_t>(j));
    return;
  }
  // Beyond the corner: matched verticals (all < Lc ≤ i) and matched diagonals (keys i − r), merged ascending.
  auto vertical = matched_verticals.begin();
  for (auto diagonal = matched_diagonals.rbegin(); diagonal != matched_diagonals.rend(); ++diagonal) {
    const std::int64_t j = i - *diagonal;  // ascending as r descends
    while (vertical != matched_verticals.end() && *vertical < j) keys.push_back(*vertical++);
    if (vertical != matched_verticals.end() && *vertical == j) ++vertical;
    keys.push_back(static_cast<std::int32_t>(j));
  }
  keys.insert(keys.end(), vertical, matched_verticals.end());
}

std::vector<std::uint8_t> DamHeadMask::extended_mask(std::int64_t length) const {
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(length * length), 0);
  std::vector<std::int32_t> keys;
  for (std::int64_t i = 0; i < length; ++i) {
    row_keys(i, keys);
    for (std::int32_t j : keys) mask[static_cast<std::size_t>(i * length + j)] = 1;
  }
  return mask;
}

DamCalibration::DamCalibration(std::int64_t layers, std::int64_t heads, std::int64_t capture_length)
    : layers_(layers), heads_(heads), capture_length_(capture_length) {
  if (layers < 1 || heads < 1 || capture_length < 1)
    fail("DAM calibration: layers {}, heads {} and capture length {} must be ≥ 1", layers, heads, capture_length);
  sums_.assign(static_cast<std::size_t>(layers * heads * capture_length * capture_length), 0.0);
  row_counts_.assign(static_cast<std::size_t>(capture_length), 0);
}

void DamCalibration::add_map(std::int64_t layer, std::int64_t head, std::span<const float> probs,
                             std::int64_t length) {
  if (layer < 0 || layer >= layers_ || head < 0 || head >= heads_)
    fail("DAM calibration: (layer {}, head {}) outside {} layers × {} heads", layer, head, layers_, heads_);
  if (length < 1 || length > capture_length_ || probs.size() != static_cast<std::size_t>(length * length))
    fail("DAM calibration: a map of {} values for length {} (capture length {})", probs.size(), length,
         capture_length_);
  const std::int64_t Lc = capture_length_;
  double* sum = sums_.data() + (layer * heads_ + head) * Lc * Lc;
  for (std::int64_t i = 0; i < length; ++i)
    for (std::int64_t j = 0; j <= i; ++j) sum[i * Lc + j] += probs[static_cast<std::size_t>(i * length + j)];
}

void DamCalibration::end_sequence(std::int64_t length) {
  if (length < 1 || length > capture_length_)
    fail("DAM calibration: sequence length {} outside 1 … {}", length, capture_length_);
  for (std::int64_t i = 0; i < length; ++i) ++row_counts_[static_cast<std::size_t>(i)];
  ++sequences_;
}

std::vector<DamHeadMask> DamCalibration::finish(const DamSettings& settings) const {
  settings.validate();
  if (sequences_ == 0) fail("DAM calibration: no calibration sequence was added");
  const std::int64_t Lc = capture_length_;
  const double lambda = settings.lambda, eps = settings.epsilon;
  const auto box_cox = [&](double mean) {
    const double x = std::max(mean, eps);
    return lambda == 0.0 ? std::log(x) : (std::pow(x, lambda) - 1.0) / lambda;
  };
  std::vector<DamHeadMask> masks(static_cast<std::size_t>(layers_ * heads_));
  // Stage 1 and the raw Box-Cox values; the shift is the minimum over every layer, head and entry.
  double minimum = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> transformed(masks.size());
  for (std::size_t m = 0; m < masks.size(); ++m) {
    DamHeadMask& mask = masks[m];
    mask.capture_length = Lc;
    mask.averaged.assign(static_cast<std::size_t>(Lc * Lc), 0.0f);
    transformed[m].resize(static_cast<std::size_t>(Lc * Lc));
    const double* sum = sums_.data() + m * static_cast<std::size_t>(Lc * Lc);
    for (std::int64_t i = 0; i < Lc; ++i)
      for (std::int64_t j = 0; j < Lc; ++j) {
        const auto e = static_cast<std::size_t>(i * Lc + j);
        const double count = j <= i ? static_cast<double>(row_counts_[static_cast<std::size_t>(i)]) : 0.0;
        const double mean = sum[e] / (count + eps);
        mask.averaged[e] = static_cast<float>(mean);
        transformed[m][e] = box_cox(mean);
        minimum = std::min(minimum, transformed[m][e]);
      }
  }
  for (std::size_t m = 0; m < masks.size(); ++m) {
    DamHeadMask& mask = masks[m];
    mask.box_cox.resize(static_cast<std::size_t>(Lc * Lc));
    mask.true_mask.assign(static_cast<std::size_t>(Lc * Lc), 0);
    for (std::size_t e = 0; e < mask.box_cox.size(); ++e) {
      const double shifted = transformed[m][e] - minimum;
      mask.box_cox[e] = static_cast<float>(shifted);
      mask.true_mask[e] = shifted >= settings.tau ? 1 : 0;
    }
    // Stage 4: γ of every diagonal and vertical, O(Lc²).
    std::vector<std::int64_t> diagonal_hits(static_cast<std::size_t>(Lc), 0), vertical_hits(diagonal_hits);
    for (std::int64_t i = 0; i < Lc; ++i)
      for (std::int64_t j = 0; j <= i; ++j)
        if (mask.true_mask[static_cast<std::size_t>(i * Lc + j)] != 0) {
          ++diagonal_hits[static_cast<std::size_t>(i - j)];
          ++vertical_hits[static_cast<std::size_t>(j)];
        }
    mask.diagonal_score.resize(static_cast<std::size_t>(Lc));
    mask.vertical_score.resize(static_cast<std::size_t>(Lc));
    mask.diagonal_matched.assign(static_cast<std::size_t>(Lc), 0);
    mask.vertical_matched.assign(static_cast<std::size_t>(Lc), 0);
    for (std::int64_t k = 0; k < Lc; ++k) {
      const auto e = static_cast<std::size_t>(k);
      const double cells = static_cast<double>(Lc - k);  // both patterns of index k hold Lc − k cells
      mask.diagonal_score[e] = static_cast<double>(diagonal_hits[e]) / cells;
      mask.vertical_score[e] = static_cast<double>(vertical_hits[e]) / cells;
      if (mask.diagonal_score[e] >= settings.mu) {
        mask.diagonal_matched[e] = 1;
        mask.matched_diagonals.push_back(static_cast<std::int32_t>(k));
      }
      if (mask.vertical_score[e] >= settings.mu) {
        mask.vertical_matched[e] = 1;
        mask.matched_verticals.push_back(static_cast<std::int32_t>(k));
      }
    }
  }
  return masks;
}

std::string_view head_label_name(HeadLabel label) {
  switch (label) {
    case HeadLabel::Sink: return "sink";
    case HeadLabel::Local: return "local";
    case HeadLabel::Vertical: return "vertical";
    case HeadLabel::Diagonal: return "diagonal";
    case HeadLabel::Content: return "content";
  }
  return "?";
}

HeadLabel dam_head_label(const DamHeadMask& mask) {
  const std::int64_t Lc = mask.capture_length;
  double sink = 0, local = 0, vertical = 0, diagonal = 0;
  for (std::int32_t c : mask.matched_verticals) (c < kSinkKeys ? sink : vertical) += static_cast<double>(Lc - c);
  for (std::int32_t r : mask.matched_diagonals)
    (r < kDamLocalOffsets ? local : diagonal) += static_cast<double>(Lc - r);
  const double best = std::max({sink, local, vertical, diagonal});
  if (best <= 0.0) return HeadLabel::Content;
  if (best == sink) return HeadLabel::Sink;
  if (best == local) return HeadLabel::Local;
  if (best == vertical) return HeadLabel::Vertical;
  return HeadLabel::Diagonal;
}

}  // namespace dmascope
