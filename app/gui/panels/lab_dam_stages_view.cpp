// The Mask lab's DAM stages for one (layer, head): the averaged map Ā, the Box-Cox map Ã, the true mask M, the
// matched patterns (diagonals and verticals) and the extended mask at the sequence length, side by side, each with
// the numbers that made it (core/lab/dam.h).
#include <imgui.h>

#include <fmt/format.h>

#include <algorithm>

#include "app/gui/panels/lab_views.h"
#include "app/gui/render/colormaps.h"

namespace dmascope::gui {

namespace {

// The matched offsets or columns by name, since a few one-pixel lines (a far diagonal is one cell at the corner)
// can be all but invisible in the picture: "none", "0, 1", or the first kShownPatterns and "… (N in all)".
// The averaged map's log scale spans four decades below its maximum.
constexpr float kAveragedLogRange = 1e-4f;

std::string pattern_list(const std::vector<std::int32_t>& patterns) {
  constexpr std::size_t kShownPatterns = 6;
  if (patterns.empty()) return "none";
  std::string text;
  for (std::size_t n = 0; n < std::min(patterns.size(), kShownPatterns); ++n)
    text += (n > 0 ? ", " : "") + std::to_string(patterns[n]);
  if (patterns.size() > kShownPatterns) text += fmt::format(", … ({} in all)", patterns.size());
  return text;
}

constexpr std::int64_t kStagePixels = 192;         // each stage's grid side (max-pooled from its cells)
constexpr std::int64_t kExtendedMaskMaxLength = 4096;  // extended_mask is [L, L] bytes: shown up to this L

// Max-pools a [side, side] map to [pixels, pixels]; cells above the diagonal become kNoCausalCell.
template <typename Value>
std::vector<float> pool(const std::vector<Value>& cells, std::int64_t side, std::int64_t pixels) {
  std::vector<float> grid(static_cast<std::size_t>(pixels * pixels), -1.0f);
  for (std::int64_t i = 0; i < side; ++i)
    for (std::int64_t j = 0; j <= i; ++j) {
      float& pixel = grid[static_cast<std::size_t>((i * pixels / side) * pixels + j * pixels / side)];
      pixel = std::max(pixel, static_cast<float>(cells[static_cast<std::size_t>(i * side + j)]));
    }
  return grid;
}

}  // namespace

void draw_lab_dam_stages(AppState& state, const LabRun& run) {
  if (run.result.dam.empty()) {
    ImGui::TextDisabled("DAM was not part of this run: tick dam and run again");
    return;
  }
  LabPanelState& lab = state.lab;
  lab_layer_head_pickers(run, lab.dam_layer, lab.dam_head);
  const auto index = static_cast<std::size_t>(lab.dam_layer * run.result.heads + lab.dam_head);
  if (index >= run.result.dam.size()) return;
  const DamHeadMask& mask = run.result.dam[index];
  const std::int64_t lc = mask.capture_length, length = run.result.length;
  const std::int64_t shown_length = std::min(length, kExtendedMaskMaxLength);
  const std::string key = fmt::format("{}/{}/{}", run.label, lab.dam_layer, lab.dam_head);
  if (lab.dam_stages_key != key) {
    lab.dam_stages_key = key;
    const std::int64_t pixels = std::min(kStagePixels, lc);
    std::vector<std::uint8_t> patterns(static_cast<std::size_t>(lc * lc), 0);
    for (std::int32_t r : mask.matched_diagonals)
      for (std::int64_t i = r; i < lc; ++i) patterns[static_cast<std::size_t>(i * lc + i - r)] = 1;
    for (std::int32_t c : mask.matched_verticals)
      for (std::int64_t i = c; i < lc; ++i) patterns[static_cast<std::size_t>(i * lc + c)] = 1;
    const std::vector<std::vector<float>> grids = {pool(mask.averaged, lc, pixels), pool(mask.box_cox, lc, pixels),
                                                   pool(mask.true_mask, lc, pixels), pool(patterns, lc, pixels)};
    for (std::size_t s = 0; s < grids.size(); ++s) {
      lab.dam_stages[s].upload(grids[s], pixels, pixels);
      lab.dam_stage_high[s] = std::max(1e-12f, *std::max_element(grids[s].begin(), grids[s].end()));
    }
    const std::int64_t extended_pixels = std::min(kStagePixels, shown_length);
    lab.dam_stages[4].upload(pool(mask.extended_mask(shown_length), shown_length, extended_pixels), extended_pixels,
                             extended_pixels);
    lab.dam_stage_high[4] = 1.0f;
  }
  std::int64_t true_cells = 0;
  for (std::uint8_t kept : mask.true_mask) true_cells += kept;
  const double causal_cells = static_cast<double>(lc) * static_cast<double>(lc + 1) / 2;
  const std::string captions[5] = {
      fmt::format("averaged Ā ({}×{}, log, {:.0e} … {:.3g})", lc, lc, lab.dam_stage_high[0] * kAveragedLogRange,
                  lab.dam_stage_high[0]),
      fmt::format("Box-Cox Ã (λ = {}, max {:.3g})", run.settings.dam_calibration.dam.lambda, lab.dam_stage_high[1]),
      fmt::format("true mask Ã ≥ {}: {:.1f} % of causal cells", run.settings.dam_calibration.dam.tau,
                  100.0 * static_cast<double>(true_cells) / causal_cells),
      fmt::format("matched (γ ≥ {}): diagonals r {}; verticals c {}", run.settings.dam_calibration.dam.mu,
                  pattern_list(mask.matched_diagonals), pattern_list(mask.matched_verticals)),
      fmt::format("extended mask at L = {}", shown_length)};
  const float side = std::max(96.0f, std::min((ImGui::GetContentRegionAvail().x - 32) / 3,
                                              (ImGui::GetContentRegionAvail().y - 80) / 2));
  for (std::size_t s = 0; s < 5; ++s) {
    if (s % 3 != 0) ImGui::SameLine();
    ImGui::BeginGroup();
    ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + side);
    ImGui::TextUnformatted(captions[s].c_str());
    ImGui::PopTextWrapPos();
    GridStyle style;
    style.table = &colormap_table(s < 2 ? Colormap::Magma : Colormap::Grey);
    style.low = 0.0f, style.high = lab.dam_stage_high[s];
    if (s == 0) {  // Ā spans decades (a sink column near 1, content near 1/L): linear shows the sink and little else
      style.mapping = GridMapping::Log;
      style.low = lab.dam_stage_high[0] * kAveragedLogRange;
    }
    const ImVec2 at = ImGui::GetCursorScreenPos();
    state.renderer->draw(ImGui::GetWindowDrawList(), lab.dam_stages[s], at, ImVec2(side, side), style);
    if (s == 2) lab.drawn_picture = {at.x, at.y, at.x + side, at.y + side};  // the true mask
    ImGui::Dummy(ImVec2(side, side));
    ImGui::EndGroup();
  }
  const auto label_index = static_cast<std::size_t>(lab.dam_layer * run.result.heads + lab.dam_head);
  if (label_index < run.result.head_labels.size())
    ImGui::Text("head label: %s", std::string(head_label_name(run.result.head_labels[label_index])).c_str());
}

}  // namespace dmascope::gui
