// What presenter mode (presenter.h) and the About / Tour window (about_window.cpp) keep between frames. Part of
// AppState.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <imgui.h>

#include "app/gui/engine_vocabulary.h"
#include "engine/session/bundled_assets.h"
#include "engine/session/recall_table.h"
#include "engine/session/session_file.h"
#include "engine/session/tour_file.h"

namespace dmascope::gui {

struct PresenterState {
  bool active = false;
  std::optional<Tour> tour;  // kept after leaving, so that starting again resumes it
  std::size_t step = 0;      // 0-based index into tour->steps
  // What the user had before the presentation (model, tokens, compute settings, view, the opened answer): the tour
  // replaces them step by step, leaving gives them back.
  std::optional<Session> user_session;
  std::int64_t user_selected_answer = -1;
  // Where the panels were before the presentation moved them (position, size by window name), put back after it; a
  // panel with no place yet (the app started presenting) goes back to its default place.
  std::map<std::string, std::pair<ImVec2, ImVec2>> saved_placement;
  bool placement_saved = false, restore_pending = false;
  // imgui.ini is not written while presenting (the presentation layout is not the user's).
  bool ini_suspended = false;
  bool font_pushed = false;  // this frame pushed the large font for the panels (popped after the caption bar)
  // Where the last frame drew the caption bar (for --layout-json): x, y, width, height in framebuffer pixels.
  bool caption_drawn = false;
  ImVec4 caption_rect;
};

struct AboutWindowState {
  bool open = false;
  bool loaded = false;  // the models and the table are read once, when the window first opens
  std::vector<BundledModel> models;
  std::optional<RecallTable> recall_table;
  std::string recall_table_error;
  bool drawn = false;   // the last frame drew the window (for --layout-json)
  std::size_t recall_rows_drawn = 0;
};

}  // namespace dmascope::gui
