// DAM, Dynamic Attention Mask (arXiv 2506.11104), as research/mask-methods.md §2 specifies it, stage by stage:
//   1. calibration: dense attention maps of N sequences at the pattern-capture length Lc, summed per (layer, head)
//      and divided by the count of sequences long enough for the entry: Ā = A_sum / (C + ε)  (sequences shorter
//      than Lc are right-padded: they add to the top-left corner only)
//   2. Box-Cox: X = max(Ā, ε), B = (X^λ − 1)/λ (ln X for λ = 0), shifted by the minimum of B over all layers, heads
//      and entries: Ã = B − min B
//   3. true mask M = [Ã ≥ τ] (per layer and head, causal entries only, since Ā = 0 above the diagonal)
//   4. pattern pool: diagonals r = 0 … Lc − 1 ({(i, i − r)}) and verticals c = 0 … Lc − 1 ({(i, c) : i ≥ c}); the
//      score γ = |M ∩ P| / |P|; a pattern is matched when γ ≥ μ
//   5. extended mask at any L: inside the Lc × Lc corner the true mask (its top-left crop when L < Lc); outside it
//      (rows i ≥ Lc) keep (i, j) iff i − j is a matched diagonal or j a matched vertical.
// Defaults are the paper's configuration: Lc = 512, λ = 0.5, τ = 0.3, μ = 0.8, ε = 1e-10 (the released code's).
// The maps are what the lab calls dense attention (with β by default): DAM calibrates against full attention.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dmascope {

struct DamSettings {
  std::int64_t capture_length = 512;  // Lc, the pattern-capture length
  double lambda = 0.5;                // Box-Cox exponent
  double tau = 0.3;                   // true-mask threshold on Ã
  double mu = 0.8;                    // pattern match threshold on γ
  double epsilon = 1e-10;             // stabiliser of the mean and of Box-Cox
  void validate() const;              // Error naming the setting out of range
};

// The calibrated mask of one (layer, head) and every stage the app shows.
struct DamHeadMask {
  std::int64_t capture_length = 0;        // Lc
  std::vector<float> averaged;            // [Lc, Lc] Ā (0 above the diagonal and where no sequence reached)
  std::vector<float> box_cox;             // [Lc, Lc] Ã (shifted Box-Cox of Ā)
  std::vector<std::uint8_t> true_mask;    // [Lc, Lc] M
  std::vector<double> diagonal_score;     // [Lc] γ of diagonal r
  std::vector<double> vertical_score;     // [Lc] γ of vertical c
  std::vector<std::uint8_t> diagonal_matched;  // [Lc]
  std::vector<std::uint8_t> vertical_matched;  // [Lc]
  std::vector<std::int32_t> matched_diagonals;  // the offsets r with diagonal_matched, ascending
  std::vector<std::int32_t> matched_verticals;  // the columns c with vertical_matched, ascending

  // The extended mask at (row i, key j), any length, j ≤ i required of callers for a causal reading.
  bool keeps(std::int64_t i, std::int64_t j) const;
  // Row i's kept keys (ascending, ≤ i).
  void row_keys(std::int64_t i, std::vector<std::int32_t>& keys) const;
  // The extended mask as [length, length] bytes (for views and tests at small length).
  std::vector<std::uint8_t> extended_mask(std::int64_t length) const;
};

// Stage 1: the running sums. Heads are query heads.
class DamCalibration {
 public:
  DamCalibration(std::int64_t layers, std::int64_t heads, std::int64_t capture_length);
  // One sequence of `length` ≤ Lc tokens: call add_map for every (layer, head), then end_sequence once. Calls for
  // different (layer, head) pairs may run at once on different threads (each adds to its own sums only).
  // probs: [length, length] row-major dense probabilities (zeros above the diagonal).
  void add_map(std::int64_t layer, std::int64_t head, std::span<const float> probs, std::int64_t length);
  void end_sequence(std::int64_t length);
  std::int64_t sequences() const { return sequences_; }
  std::int64_t layers() const { return layers_; }
  std::int64_t heads() const { return heads_; }
  std::int64_t capture_length() const { return capture_length_; }
  // Stages 1–4 for every (layer, head), [layers · heads] in layer-major order. Error without any sequence.
  std::vector<DamHeadMask> finish(const DamSettings& settings) const;

 private:
  std::int64_t layers_ = 0, heads_ = 0, capture_length_ = 0, sequences_ = 0;
  std::vector<double> sums_;               // [layers, heads, Lc, Lc]
  std::vector<std::int64_t> row_counts_;   // [Lc]: sequences reaching row i (C[i, j] for j ≤ i)
};

// Head labels for the Overview, from DAM's matched patterns of the head: the class whose matched patterns cover the
// most cells; "content" when none matched.
//   sink      verticals c < kSinkKeys (4)          vertical  verticals c ≥ 4
//   local     diagonals r < kDamLocalOffsets (16)  diagonal  diagonals r ≥ 16
enum class HeadLabel : std::uint8_t { Sink, Local, Vertical, Diagonal, Content };
inline constexpr std::int64_t kDamLocalOffsets = 16;
std::string_view head_label_name(HeadLabel label);  // "sink", "local", "vertical", "diagonal", "content"
HeadLabel dam_head_label(const DamHeadMask& mask);

}  // namespace dmascope
