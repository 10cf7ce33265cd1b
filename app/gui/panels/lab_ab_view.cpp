// The Mask lab's A/B view: two runs (or two strategies of one run) side by side: per (layer, head) Δ token density,
// Δ recall and Δ kept-set time (B − A), and for the chosen head the keys B gained and lost against A, drawn in two
// colours (gained blue, lost orange; kept by both grey).
#include <imgui.h>

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "app/gui/panels/lab_views.h"
#include "app/gui/render/colormaps.h"
#include "core/lab/kept_rows.h"
#include "core/view/view_reduce.h"

namespace dmascope::gui {

namespace {

constexpr std::int64_t kKeyDiffPixels = 256;
// Categorical values of the keys picture, by priority within a pixel (a pixel shows the highest it covers).
enum KeyDiffValue : int { kNeither = 0, kCommon = 1, kGained = 2, kLost = 3 };
constexpr Rgb kGainedColor = {86, 180, 233};  // Okabe–Ito sky blue
constexpr Rgb kLostColor = {230, 159, 0};     // Okabe–Ito orange
constexpr Rgb kCommonColor = {140, 140, 150};
constexpr Rgb kNeitherColor = {20, 20, 26};

const ColormapTable& key_diff_table() {
  static const ColormapTable table = [] {
    ColormapTable t{};
    t[kNeither] = kNeitherColor, t[kCommon] = kCommonColor, t[kGained] = kGainedColor, t[kLost] = kLostColor;
    return t;
  }();
  return table;
}

bool run_picker(const char* label, const std::vector<std::shared_ptr<const LabRun>>& runs, int& index) {
  bool changed = false;
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 16);
  if (ImGui::BeginCombo(label, runs[static_cast<std::size_t>(index)]->label.c_str())) {
    for (int i = 0; i < static_cast<int>(runs.size()); ++i)
      if (ImGui::Selectable(runs[static_cast<std::size_t>(i)]->label.c_str(), i == index)) index = i, changed = true;
    ImGui::EndCombo();
  }
  return changed;
}

bool strategy_picker(const char* label, const LabRun& run, int& index) {
  const auto& strategies = run.settings.strategies;
  index = std::clamp(index, 0, static_cast<int>(strategies.size()) - 1);
  bool changed = false;
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 7);
  if (ImGui::BeginCombo(label, std::string(strategy_name(strategies[static_cast<std::size_t>(index)])).c_str())) {
    for (int i = 0; i < static_cast<int>(strategies.size()); ++i)
      if (ImGui::Selectable(std::string(strategy_name(strategies[static_cast<std::size_t>(i)])).c_str(), i == index))
        index = i, changed = true;
    ImGui::EndCombo();
  }
  return changed;
}

// The keys picture of one head: per pixel the highest KeyDiffValue of the causal cells it covers.
std::vector<float> key_diff_grid(const LabHead& head_a, Strategy a, const LabHead& head_b, Strategy b,
                                 std::int64_t pixels) {
  const std::int64_t length = head_a.length;
  std::vector<float> grid(static_cast<std::size_t>(pixels * pixels), kNoCausalCell);
  const KeptSetBuilder builder_a(head_a), builder_b(head_b);
  const KeptRows rows_a = builder_a.rows(a, 0, length), rows_b = builder_b.rows(b, 0, length);
  std::vector<std::uint8_t> in_a(static_cast<std::size_t>(length)), in_b(static_cast<std::size_t>(length));
  for (std::int64_t i = 0; i < length; ++i) {
    for (std::int32_t j : rows_a.row(i)) in_a[static_cast<std::size_t>(j)] = 1;
    for (std::int32_t j : rows_b.row(i)) in_b[static_cast<std::size_t>(j)] = 1;
    const std::int64_t y = i * pixels / length;
    for (std::int64_t j = 0; j <= i; ++j) {
      const bool ka = in_a[static_cast<std::size_t>(j)], kb = in_b[static_cast<std::size_t>(j)];
      const int value = ka && kb ? kCommon : kb ? kGained : ka ? kLost : kNeither;
      float& cell = grid[static_cast<std::size_t>(y * pixels + j * pixels / length)];
      cell = std::max(cell, static_cast<float>(value));
    }
    for (std::int32_t j : rows_a.row(i)) in_a[static_cast<std::size_t>(j)] = 0;
    for (std::int32_t j : rows_b.row(i)) in_b[static_cast<std::size_t>(j)] = 0;
  }
  return grid;
}

void legend_swatch(const Rgb& color, const char* text) {
  const ImVec2 at = ImGui::GetCursorScreenPos();
  const float side = ImGui::GetTextLineHeight();
  ImGui::GetWindowDrawList()->AddRectFilled(at, ImVec2(at.x + side, at.y + side),
                                            IM_COL32(color[0], color[1], color[2], 255));
  ImGui::Dummy(ImVec2(side, side));
  ImGui::SameLine();
  ImGui::TextUnformatted(text);
}

}  // namespace

void draw_lab_ab_view(AppState& state) {
  LabPanelState& lab = state.lab;
  const auto& runs = lab.runner.runs();
  if (runs.empty()) return;
  const int newest = static_cast<int>(runs.size()) - 1;
  if (lab.ab_a < 0 || lab.ab_a > newest) lab.ab_a = std::max(0, newest - 1);
  if (lab.ab_b < 0 || lab.ab_b > newest) lab.ab_b = newest;
  run_picker("A##run", runs, lab.ab_a);
  ImGui::SameLine();
  const LabRun& run_a = *runs[static_cast<std::size_t>(lab.ab_a)];
  strategy_picker("strategy A", run_a, lab.ab_strategy_a);
  run_picker("B##run", runs, lab.ab_b);
  ImGui::SameLine();
  const LabRun& run_b = *runs[static_cast<std::size_t>(lab.ab_b)];
  strategy_picker("strategy B", run_b, lab.ab_strategy_b);
  const Strategy strategy_a = run_a.settings.strategies[static_cast<std::size_t>(lab.ab_strategy_a)];
  const Strategy strategy_b = run_b.settings.strategies[static_cast<std::size_t>(lab.ab_strategy_b)];

  // Rows of A and B by (layer, head).
  std::map<std::pair<std::int64_t, std::int64_t>, const StrategyMetrics*> rows_a, rows_b;
  for (const LabRow& row : run_a.result.rows)
    if (row.metrics.strategy == strategy_a) rows_a[{row.layer, row.head}] = &row.metrics;
  for (const LabRow& row : run_b.result.rows)
    if (row.metrics.strategy == strategy_b) rows_b[{row.layer, row.head}] = &row.metrics;

  const float table_width = ImGui::GetContentRegionAvail().x * 0.5f;
  ImGui::BeginChild("ab table", ImVec2(table_width, 0));
  double sum_density = 0, sum_recall = 0, sum_ms = 0;
  std::int64_t matched = 0;
  if (ImGui::BeginTable("ab rows", 5,
                        ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollY | ImGuiTableFlags_SizingFixedFit)) {
    ImGui::TableSetupScrollFreeze(0, 1);
    for (const char* name : {"layer", "head", "Δ density", "Δ recall", "Δ time"}) ImGui::TableSetupColumn(name);
    ImGui::TableHeadersRow();
    for (const auto& [key, a] : rows_a) {
      const auto found = rows_b.find(key);
      if (found == rows_b.end()) continue;
      const StrategyMetrics& b = *found->second;
      const double d_density = b.token_density - a->token_density, d_recall = b.mass_recall_mean - a->mass_recall_mean;
      const double d_ms = b.kept_set_ms - a->kept_set_ms;
      sum_density += d_density, sum_recall += d_recall, sum_ms += d_ms, ++matched;
      ImGui::TableNextRow();
      ImGui::TableNextColumn(), ImGui::Text("%lld", static_cast<long long>(key.first));
      ImGui::TableNextColumn(), ImGui::Text("%lld", static_cast<long long>(key.second));
      ImGui::TableNextColumn(), ImGui::Text("%+.4f", d_density);
      ImGui::TableNextColumn(), ImGui::Text("%+.4f", d_recall);
      ImGui::TableNextColumn();
      if (state.deterministic) ImGui::TextDisabled("—");  // screenshots show no wall-clock numbers
      else ImGui::Text("%+.2f ms", d_ms);
    }
    ImGui::EndTable();
  }
  ImGui::EndChild();
  ImGui::SameLine();
  ImGui::BeginChild("ab keys");
  if (matched > 0)
    ImGui::Text("mean over %lld heads: Δ density %+.4f, Δ recall %+.4f", static_cast<long long>(matched),
                sum_density / matched, sum_recall / matched);
  else
    ImGui::TextDisabled("A and B share no (layer, head)");
  if (run_a.result.length != run_b.result.length) {
    ImGui::TextDisabled("kept keys: A has %lld tokens, B %lld; the keys picture needs the same sequence length",
                        static_cast<long long>(run_a.result.length), static_cast<long long>(run_b.result.length));
    ImGui::EndChild();
    return;
  }
  lab_layer_head_pickers(run_a, lab.dam_layer, lab.dam_head);
  const std::int64_t length = run_a.result.length, pixels = std::min(kKeyDiffPixels, length);
  const std::string key = fmt::format("{}/{}/{}/{}/{}/{}", run_a.label, run_b.label, strategy_name(strategy_a),
                                      strategy_name(strategy_b), lab.dam_layer, lab.dam_head);
  lab.ab_job.request(key, [a = runs[static_cast<std::size_t>(lab.ab_a)], b = runs[static_cast<std::size_t>(lab.ab_b)],
                           layer = lab.dam_layer, head = lab.dam_head, strategy_a, strategy_b, pixels] {
    const LabHeadView view_a = lab_head_view(*a, layer, head);
    const LabHeadView view_b = lab_head_view(*b, layer, head);
    LabPicture picture;
    picture.counts = diff_kept_sets(view_a.head, strategy_a, view_b.head, strategy_b);
    picture.grid = key_diff_grid(view_a.head, strategy_a, view_b.head, strategy_b, pixels);
    picture.side = pixels;
    return picture;
  });
  if (lab.ab_job.poll() && lab.ab_job.finished().error.empty()) {
    const LabPicture& picture = lab.ab_job.finished();
    lab.ab_keys.upload(picture.grid, picture.side, picture.side);
  }
  const LabPicture& shown = lab.ab_job.finished();
  if (!shown.error.empty()) {
    ImGui::TextColored(ImVec4(1.0f, 0.45f, 0.4f, 1.0f), "A/B keys: %s", shown.error.c_str());
    ImGui::EndChild();
    return;
  }
  if (shown.key != key) {
    ImGui::TextDisabled("computing the kept keys of layer %d head %d…", lab.dam_layer, lab.dam_head);
    ImGui::EndChild();
    return;
  }
  ImGui::Text("layer %d head %d: B gained %lld keys, lost %lld, kept %lld in common", lab.dam_layer, lab.dam_head,
              static_cast<long long>(shown.counts.gained), static_cast<long long>(shown.counts.lost),
              static_cast<long long>(shown.counts.common));
  legend_swatch(kGainedColor, "gained (B only)");
  ImGui::SameLine();
  legend_swatch(kLostColor, "lost (A only)");
  ImGui::SameLine();
  legend_swatch(kCommonColor, "both");
  if (!lab.ab_keys.empty()) {
    const ImVec2 available = ImGui::GetContentRegionAvail();
    const float side = std::max(64.0f, std::min(available.x, available.y));
    GridStyle style;
    style.table = &key_diff_table();
    style.mapping = GridMapping::Categorical;
    const ImVec2 at = ImGui::GetCursorScreenPos();
    state.renderer->draw(ImGui::GetWindowDrawList(), lab.ab_keys, at, ImVec2(side, side), style);
    lab.drawn_picture = {at.x, at.y, at.x + side, at.y + side};
    ImGui::Dummy(ImVec2(side, side));
  }
  ImGui::EndChild();
}

}  // namespace dmascope::gui
