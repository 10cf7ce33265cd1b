#include "core/model/forward_agreement.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/base/error.h"

namespace dmascope {

namespace {

struct LogitRowsView {
  std::int64_t rows = 0, vocab = 0;
  const float* data = nullptr;
};

LogitRowsView logit_rows(const Tensor& logits, const char* which) {
  if (logits.dtype() != DType::F32) fail("logits comparison: the {} logits are not fp32", which);
  if (logits.shape().empty() || logits.numel() == 0) fail("logits comparison: the {} logits are empty", which);
  const std::int64_t vocab = logits.shape().back();
  return {logits.numel() / vocab, vocab, logits.data<float>()};
}

void require_same_shape(const LogitRowsView& test, const LogitRowsView& reference) {
  if (test.rows != reference.rows || test.vocab != reference.vocab)
    fail("logits comparison: the test has {} rows of {} logits, the reference {} rows of {}", test.rows, test.vocab,
         reference.rows, reference.vocab);
}

}  // namespace

double logits_relative_error(const Tensor& test, const Tensor& reference) {
  return row_relative_errors(test, reference).whole;
}

RowErrors row_relative_errors(const Tensor& test, const Tensor& reference) {
  const LogitRowsView a = logit_rows(test, "test"), b = logit_rows(reference, "reference");
  require_same_shape(a, b);
  const std::int64_t V = a.vocab;
  std::vector<double> errors(static_cast<std::size_t>(a.rows));
  std::vector<double> quarter_difference(4, 0.0), quarter_norm(4, 0.0);
  RowErrors summary;
  for (std::int64_t r = 0; r < a.rows; ++r) {
    double difference = 0.0, norm = 0.0;
    for (std::int64_t v = 0; v < V; ++v) {
      const double x = a.data[r * V + v], y = b.data[r * V + v];
      difference += std::isfinite(x) ? (x - y) * (x - y) : INFINITY;
      norm += y * y;
    }
    const double error = std::sqrt(difference / std::max(norm, 1e-300));
    errors[static_cast<std::size_t>(r)] = error;
    if (error > summary.worst || r == 0) {
      summary.worst = error;
      summary.worst_row = r;
    }
    const auto quarter = static_cast<std::size_t>(std::min<std::int64_t>(3, r * 4 / a.rows));
    quarter_difference[quarter] += difference;
    quarter_norm[quarter] += norm;
  }
  double difference = 0.0, norm = 0.0;
  for (std::size_t q = 0; q < 4; ++q) {
    difference += quarter_difference[q];
    norm += quarter_norm[q];
  }
  summary.whole = std::sqrt(difference / std::max(norm, 1e-300));
  if (a.rows >= 4)
    for (std::size_t q = 0; q < 4; ++q)
      summary.by_quarter.push_back(std::sqrt(quarter_difference[q] / std::max(quarter_norm[q], 1e-300)));
  const auto at_rank = [&](double fraction) {
    const auto n = static_cast<std::size_t>(fraction * static_cast<double>(errors.size() - 1));
    std::nth_element(errors.begin(), errors.begin() + static_cast<std::ptrdiff_t>(n), errors.end());
    return errors[n];
  };
  summary.median = at_rank(0.5);
  summary.p99 = at_rank(0.99);
  return summary;
}

TopOneAgreement top_one_agreement(const Tensor& test, const Tensor& reference) {
  const LogitRowsView a = logit_rows(test, "test"), b = logit_rows(reference, "reference");
  require_same_shape(a, b);
  const std::int64_t V = a.vocab;
  TopOneAgreement agreement;
  agreement.rows = a.rows;
  for (std::int64_t r = 0; r < a.rows; ++r) {
    const float* x = a.data + r * V;
    const float* y = b.data + r * V;
    const std::int64_t top_x = std::max_element(x, x + V) - x, top_y = std::max_element(y, y + V) - y;
    if (top_x == top_y) continue;
    double squares = 0.0;
    for (std::int64_t v = 0; v < V; ++v) {
      const double difference = static_cast<double>(x[v]) - y[v];
      squares += difference * difference;
    }
    agreement.flips.push_back({r, top_x, top_y, static_cast<double>(y[top_y]) - y[top_x],
                               std::sqrt(squares / static_cast<double>(V))});
  }
  return agreement;
}

std::string describe_flips(const TopOneAgreement& agreement, std::size_t most) {
  std::string text = fmt::format("{} flip{}", agreement.flips.size(), agreement.flips.size() == 1 ? "" : "s");
  for (std::size_t n = 0; n < std::min(most, agreement.flips.size()); ++n) {
    const TopOneFlip& flip = agreement.flips[n];
    text += fmt::format("{} row {} margin {:.3g} = {:.2f} RMS", n == 0 ? ":" : ";", flip.row, flip.reference_margin,
                        flip.margin_in_rms());
  }
  if (agreement.flips.size() > most) text += fmt::format("; {} more", agreement.flips.size() - most);
  return text;
}

MaskAgreement mask_agreement(std::span<const std::int32_t> test_death, std::span<const std::int32_t> reference_death,
                             const CutTies& test_ties, const CutTies& reference_ties) {
  if (test_death.size() != reference_death.size())
    fail("mask comparison: {} death indices against the reference's {}", test_death.size(), reference_death.size());
  const auto L = static_cast<std::int64_t>(test_death.size());
  // Key j is kept on rows [j, end); the two masks differ for j on [min(end_a, end_b), max(end_a, end_b)).
  std::vector<std::int64_t> changes(static_cast<std::size_t>(L) + 1, 0);
  double differing = 0.0, kept = 0.0;
  for (std::int64_t j = 0; j < L; ++j) {
    const std::int64_t end_a = std::clamp<std::int64_t>(test_death[static_cast<std::size_t>(j)], j, L);
    const std::int64_t end_b = std::clamp<std::int64_t>(reference_death[static_cast<std::size_t>(j)], j, L);
    kept += static_cast<double>(end_b - j);
    if (end_a == end_b) continue;
    differing += static_cast<double>(std::abs(end_a - end_b));
    ++changes[static_cast<std::size_t>(std::min(end_a, end_b))];
    --changes[static_cast<std::size_t>(std::max(end_a, end_b))];
  }
  MaskAgreement agreement;
  agreement.rows = L;
  agreement.kept_share = kept > 0.0 ? 1.0 - differing / 2.0 / kept : 1.0;  // a swap: one entry lost, one gained
  std::int64_t open = 0;
  for (std::int64_t i = 0; i < L; ++i) {
    open += changes[static_cast<std::size_t>(i)];
    if (open == 0) continue;
    ++agreement.rows_differing;
    agreement.differing_on_tie += test_ties.row_is_tied(i) || reference_ties.row_is_tied(i);
  }
  return agreement;
}

}  // namespace dmascope
