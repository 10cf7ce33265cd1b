// The Mask lab's edited settings to and from a session file's "lab" section (engine/session/lab_session.h).
#include <algorithm>
#include <cstring>

#include "app/gui/panels/lab_views.h"

namespace dmascope::gui {

LabSessionSettings lab_session_settings(const LabPanelState& lab) {
  LabSessionSettings settings;
  settings.strategies.clear();
  for (std::size_t i = 0; i < kAllStrategies.size(); ++i)
    if (lab.edit.strategies[i])
      settings.strategies += (settings.strategies.empty() ? "" : ",") + std::string(strategy_name(kAllStrategies[i]));
  if (settings.strategies.empty()) settings.strategies = all_strategy_names();  // a session never holds an empty list
  settings.window = lab.edit.window;
  settings.dense_with_bias = lab.edit.dense_with_bias;
  settings.dam_source = static_cast<DamSource>(lab.edit.dam_source);
  settings.dam_sequences = lab.edit.dam_sequences;
  settings.dam_capture_length = lab.edit.dam_capture_length;
  settings.dam_text_file = lab.edit.dam_text_file.data();
  settings.budget_curves = lab.edit.budget_curves;
  settings.open = lab.open;
  return settings;
}

void apply_lab_session_settings(LabPanelState& lab, const LabSessionSettings& settings) {
  LabEdit& edit = lab.edit;
  edit.strategies.fill(false);
  for (Strategy strategy : parse_strategy_list(settings.strategies))
    edit.strategies[static_cast<std::size_t>(
        std::find(kAllStrategies.begin(), kAllStrategies.end(), strategy) - kAllStrategies.begin())] = true;
  edit.window = static_cast<int>(settings.window);
  edit.dense_with_bias = settings.dense_with_bias;
  edit.dam_source = static_cast<int>(settings.dam_source);
  edit.dam_sequences = static_cast<int>(settings.dam_sequences);
  edit.dam_capture_length = static_cast<int>(settings.dam_capture_length);
  edit.dam_text_file.fill('\0');
  std::strncpy(edit.dam_text_file.data(), settings.dam_text_file.c_str(), edit.dam_text_file.size() - 1);
  edit.budget_curves = settings.budget_curves;
  lab.open = settings.open;
}

}  // namespace dmascope::gui
