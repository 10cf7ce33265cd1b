// Tour files: a guided walk through dmascope for presenter mode (presenter.h). A tour is JSON that lists steps; each
// step is a session (session_file.h) plus a title and a caption of 1–3 sentences that says what is on screen.
//
//   {"dmascope_tour": 1, "title": "...",
//    "base_session": {"settings": {...}, "view": {...}},          optional: what every inline step starts from
//    "steps": [{"title": "...", "caption": "...", "session": {"view": {"layer": 1}}},      inline, over base_session
//              {"title": "...", "caption": "...", "session": "sessions/tiles.json"}]}      a session file
//
// A step may also say what the screen shows, because a caption is only useful when what it talks about is in view:
//   "panels": ["heatmap", "timing"]   the one or two panels laid out for this step (the others are hidden);
//                                     default: heatmap and tile map
//   "highlight": "beta_strip"         the region the caption explains, outlined with a callout (TourHighlight)
//   "cites": ["43.7 %", "26"]         the numbers the caption quotes from the screen; each must occur in the caption,
//                                     and the presenter test checks that each is drawn, unclipped, at every size
//
// Paths inside a tour are relative to the file that names them: a session path and the inline keys
// settings.model_dir and settings.text_file (a text file read into settings.text, so that a long sequence is not
// repeated in every step) to the tour file; a session file's own relative model_dir to that session file. A session
// path and a text_file must stay inside the tour's folder (relative, no ".."): they are read and shown, and a tour
// from elsewhere must not show ../../etc/hostname. A model_dir may point anywhere (the bundled tour names
// ../models/...): a model folder is only read by the strict checkpoint, config and tokenizer readers. Parsing is
// strict, unlike session files: an unknown key, a missing title or a caption of more than 3 sentences is an error
// that names the tour file and the step, because a tour is written by hand and a typo must not pass silently.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "engine/session/session_file.h"

namespace dmascope::engine {

// The panels a tour step can lay out.
enum class TourPanel { Heatmap, TileMap, Overview, Timing };
inline constexpr std::size_t kMaxTourPanels = 2;  // more would shrink each below readable at 1280×720
std::string_view tour_panel_name(TourPanel panel);  // "heatmap" | "tiles" | "overview" | "timing"

// The region a step outlines: what its caption explains.
enum class TourHighlight {
  None,
  BetaStrip,      // the β strip under the heatmap
  DeathIndices,   // the heatmap with the death-index overlay on (where each key's kept run ends)
  Answers,        // the answer rings and their legend
  SkippedTiles,   // the tile map's empty tiles
  GatheredKeys,   // the tile map's and the timing panel's executed-work numbers
  DensityLabels,  // the overview's per-head densities and answer counts
};
std::string_view tour_highlight_name(TourHighlight highlight);  // "none" | "beta_strip" | ...

struct TourStep {
  std::string title;
  std::string caption;
  Session session;
  std::vector<TourPanel> panels{TourPanel::Heatmap, TourPanel::TileMap};  // 1 or 2, in layout order
  TourHighlight highlight = TourHighlight::None;
  std::vector<std::string> cites;  // each occurs in caption
};

struct Tour {
  std::string title;
  std::filesystem::path file;  // where it was read from (for messages)
  std::vector<TourStep> steps; // at least one
};

// Limits a caption and a title must keep so that they fit the presenter's caption bar.
inline constexpr int kMaxCaptionSentences = 3;
inline constexpr std::size_t kMaxCaptionBytes = 420, kMaxTitleBytes = 80;

// Sentences in a caption: runs of text ended by '.', '!' or '?' followed by a space or the end (so "1.5" and
// "arXiv 2508.02124" do not end one); a trailing fragment without an end mark counts as a sentence too.
int caption_sentence_count(std::string_view caption);

// `file` names the tour in errors and is the base of its relative paths; it is not read.
Tour tour_from_json(std::string_view json_text, const std::filesystem::path& file);
Tour load_tour(const std::filesystem::path& file);

}  // namespace dmascope::engine
