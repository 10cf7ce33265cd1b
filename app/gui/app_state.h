// Everything the panels share: the pipeline (source + settings → results), the settings being edited, the view state,
// the renderer and each panel's cached textures. Panels are free functions over this (panels.h); app.h owns it.
#pragma once

#include <array>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/gui/engine_vocabulary.h"
#include "engine/export/export_files.h"
#include "app/gui/platform/gl_window.h"
#include "engine/pipeline/grid_key.h"
#include "app/gui/render/grid_renderer.h"
#include "engine/pipeline/logit_grid_job.h"
#include "engine/session/model_discovery.h"
#include "engine/pipeline/pipeline.h"
#include "app/gui/panels/lab_panel_state.h"
#include "app/gui/panels/timing_panel_state.h"
#include "engine/session/recent_models.h"
#include "app/gui/presenter/presenter_state.h"
#include "engine/session/view_state.h"

namespace dmascope::gui {

// A number or label a panel drew that a tour caption may quote: where (screen pixels, x0 y0 x1 y1) and whether all
// of it lay inside the visible part of its window (not cut by the window's edge, a table column or the display).
struct ShownText {
  std::string text;
  ImVec4 rect;
  bool visible = false;
};

// Where the last frame drew the heatmap and the tile map, in framebuffer pixels, and which part of the matrix they
// show: written by the panels, read by `--layout-json` (screenshot tests) and, for the regions a tour step
// highlights and the texts its caption quotes, by presenter mode (presenter.cpp).
struct FrameLayout {
  bool heatmap_drawn = false, tiles_drawn = false;
  float heatmap_x = 0, heatmap_y = 0, heatmap_side = 0;
  float tiles_x = 0, tiles_y = 0, tiles_side = 0;
  MatrixWindow window;
  std::int64_t length = 0, layer = 0, head = 0, bias_head = 0;
  float font_pixels = 0;  // the UI font's size in framebuffer pixels (hi-DPI tests)
  std::vector<ShownText> texts;                  // this frame's (shown_text.h); cleared at the start of a frame
  // Screen rects (x0 y0 x1 y1) of each highlightable region drawn, one per panel that shows it.
  std::map<TourHighlight, std::vector<ImVec4>> regions;
};

// "Save a PNG" after this frame: the whole window, or one panel's part of it.
struct PngRequest {
  ExportName name;
  std::optional<PixelRect> crop;  // framebuffer pixels; none: the whole window
};

struct HeatmapPanelState {
  GridTexture matrix, beta_strip, colorbar;
  GridKey matrix_key, beta_key;
  float matrix_high = 1.0f;               // largest value of the reduced matrix (probabilities)
  float beta_low = 0.0f, beta_high = 1.0f;
  std::vector<float> matrix_values;       // the reduced grid, for the tooltip's pixel value
  std::string matrix_reduced_on = "CPU";  // where the grid was reduced: "GPU", "CPU", "CPU (why not the GPU)"
  // Logits view: the grid on screen (its key may lag the view while the worker reduces the newest one).
  GridTexture logit_texture;
  std::unique_ptr<LogitGridJob> logit_job;  // started on first use
  GridKey logit_key, logit_wanted;
  LogitGrid logits;
  ColorScale logit_scale = ColorScale::Linear;  // the mapping the texture's display values were made for
  std::string logit_error;
  // The tooltip's entry: (generation, layer, head, query, key) and its logit and probability.
  // A cache of the tooltip's, which reads the state as const.
  mutable std::array<std::int64_t, 5> hovered_key{};
  mutable std::optional<LogitCell> hovered;
  bool show_death_indices = false;  // mark where each key's kept run ends
  // The dropped-mass overlay (heatmap_dropped_mass.h): the dense probability of the entries a strategy dropped.
  bool show_dropped_mass = false;
  Strategy dropped_strategy = Strategy::Swa;
  std::unique_ptr<LabPictureJob> dropped_job;  // started on first use
  GridTexture dropped_texture;                 // holds the job's finished picture
  std::string dropped_uploaded;                // the key of the picture in dropped_texture
};

struct TileMapPanelState {
  GridTexture tiles;
  GridKey key;
};

struct OverviewPanelState {
  std::vector<std::unique_ptr<GridTexture>> thumbnails;  // [layer · Hb + bias head]
  std::uint64_t generation = 0;
};

struct AppState {
  explicit AppState(std::function<void()> wake) : pipeline(wake), wake(wake) {}

  Pipeline pipeline;
  std::function<void()> wake;   // wakes the UI thread from a worker (the pipeline's, the logits job's)
  PipelineSettings edit;        // what the Source panel shows; handed to the pipeline when an edit completes
  bool edit_complete = false;   // set by a widget when its edit is done (slider released, combo picked, ...)
  ViewState view;
  // A view loaded with a session: applied when the first result of the session's settings arrives, so that the
  // previous result (still shown meanwhile) is never looked at with a layer, head or zoom it does not have.
  std::optional<ViewState> pending_view;
  std::unique_ptr<GridRenderer> renderer;
  bool deterministic = false;   // screenshot mode: no timings, no wall-clock numbers in the picture

  std::filesystem::path default_model;
  std::vector<CachedModel> cached_models;
  RecentModels recent_models;        // the Source panel's recent list (recent_models.h); empty in screenshots
  std::filesystem::path recent_models_path;  // where it is kept; empty: not remembered (screenshots, no HOME)
  std::filesystem::path recent_recorded;     // the model folder of the last result added to the list
  std::string session_path = "dmascope-session.json";
  // Where PNG, CSV and mask exports go (export_files.h: named for what they hold, never over an earlier export).
  std::string export_folder = default_export_folder();
  std::optional<PngRequest> png_request;  // "save the window as PNG" after this frame, under this name
  std::string ui_message;       // the outcome of the last user action (saved, loaded, ...)
  std::string ui_error;         // an error from a user action (not from the pipeline)
  std::string ids_text;         // the ids box of SourceKind::Ids
  bool show_help = false;
  std::int64_t selected_answer = -1;  // the trained task answer last opened from the Overview (answers_section.cpp)
  PresenterState presenter;     // presenter mode: the tour and its step (presenter.h)
  AboutWindowState about;       // the About / Tour window (about_window.cpp)
  // The β pipeline window (beta_pipeline_window.cpp): one key's v → dt_proj → softplus → ×A → exp → β, in the view's
  // layer and head. The key is picked there, by clicking a column of the β strip or right-clicking the heatmap.
  struct BetaWindowState {
    bool open = false;
    std::int64_t key = 0;
    bool drawn = false;
  } beta_window;
  bool quit_requested = false;
  std::vector<KeyPress> key_presses;  // this frame's, for the shortcuts

  HeatmapPanelState heatmap;
  TileMapPanelState tiles;
  KernelTilePanelState kernel_tiles;  // the tile map's second picture: the CUDA kernel's own tiles
  TimingPanelState timing_panel;
  GpuStatusCache gpu_status;          // the status bar's GPU line
  OverviewPanelState overview;
  LabPanelState lab{wake};  // the Mask lab window (lab_panel.cpp) and its worker
  FrameLayout layout;
};

}  // namespace dmascope::gui
