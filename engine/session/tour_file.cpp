#include "engine/session/tour_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/base/error.h"
#include "core/base/printable.h"
#include "core/base/regular_file.h"

namespace dmascope::engine {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kTourVersion = 1;

// A tour is hand-written: a few kilobytes of steps. Text files hold at most a session's text.
constexpr std::uint64_t kMaxTourFileBytes = 4ull << 20;

std::string read_text_file(const fs::path& path, const std::string& what, std::uint64_t max_bytes) {
  return read_regular_file(path, what, max_bytes);
}

// A path that a tour names (a session file, a text file) must stay inside the tour's folder: relative, with no ".."
// and no empty or NUL parts, so that a downloaded tour cannot read ../../etc/hostname and show it or save it into a
// session. A path the user gives on the command line is not checked: the user picked it.
fs::path inside_folder(const fs::path& folder, const std::string& relative, const std::string& where) {
  const fs::path path(relative);
  bool escapes = relative.empty() || path.is_absolute() || path.has_root_name() ||
                 relative.find('\0') != std::string::npos;
  for (const fs::path& part : path)
    if (part == "..") escapes = true;
  if (escapes)
    fail("{}: \"{}\" must be a relative path inside the tour's folder {} (no \"..\", no absolute path)", where,
         printable(relative), printable(folder.string()));
  return folder / path;
}

// The keys a session's "settings" and "view" may hold: those session_to_json writes (one list, kept by the session
// file), plus the tour-only settings.text_file.
const std::set<std::string>& known_keys(const std::string& section) {
  static const auto keys = [] {
    std::map<std::string, std::set<std::string>> found;
    const json document = json::parse(session_to_json(Session{}));
    for (const char* name : {"settings", "view"})
      for (const auto& item : document.at(name).items()) found[name].insert(item.key());
    found["settings"].insert("text_file");
    return found;
  }();
  return keys.at(section);
}

void check_keys(const json& object, const std::set<std::string>& allowed, const std::string& where) {
  for (const auto& item : object.items())
    if (!allowed.count(item.key())) {
      std::string list;
      for (const std::string& key : allowed) list += (list.empty() ? "" : ", ") + key;
      fail("{}: unknown key \"{}\" (expected one of: {})", where, printable(item.key()), list);
    }
}

// An inline session object (after merging over base_session): strict keys, text_file read, model_dir made absolute.
Session inline_session(json session, const fs::path& tour_dir, const std::string& where) {
  if (!session.is_object()) fail("{}: \"session\" must be an object or a path", where);
  check_keys(session, {"settings", "view"}, where + ": session");
  for (const char* section : {"settings", "view"}) {
    if (!session.contains(section)) session[section] = json::object();
    if (!session[section].is_object()) fail("{}: session.{} must be an object", where, section);
    check_keys(session[section], known_keys(section), fmt::format("{}: session.{}", where, section));
  }
  json& settings = session["settings"];
  if (settings.contains("text_file")) {
    if (!settings["text_file"].is_string()) fail("{}: session.settings.text_file must be a string", where);
    const fs::path text_path =
        inside_folder(tour_dir, settings["text_file"].get<std::string>(), where + ": session.settings.text_file");
    std::string text = read_text_file(text_path, "the text file of " + where, kMaxSessionTextBytes);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();  // as $(cat FILE) does
    settings["text"] = text;
    settings.erase("text_file");
  }
  session["dmascope_session"] = 1;
  Session parsed = session_from_json(session.dump(), where);
  std::string& model_dir = parsed.settings.model_dir;
  if (!model_dir.empty() && fs::path(model_dir).is_relative()) model_dir = (tour_dir / model_dir).lexically_normal();
  return parsed;
}

Session session_at_path(const std::string& relative, const fs::path& tour_dir, const std::string& where) {
  const fs::path path = inside_folder(tour_dir, relative, where + ": session");
  Session session = session_from_json(read_text_file(path, "the session file of " + where, kMaxSessionFileBytes),
                                      fmt::format("{} ({})", where, printable(path.string())));
  std::string& model_dir = session.settings.model_dir;
  if (!model_dir.empty() && fs::path(model_dir).is_relative())
    model_dir = (path.parent_path() / model_dir).lexically_normal();
  return session;
}

std::string string_key(const json& object, const char* key, const std::string& where) {
  const auto found = object.find(key);
  if (found == object.end() || !found->is_string()) fail("{}: \"{}\" must be a string", where, key);
  return found->get<std::string>();
}

constexpr std::pair<TourPanel, std::string_view> kPanelNames[] = {
    {TourPanel::Heatmap, "heatmap"}, {TourPanel::TileMap, "tiles"}, {TourPanel::Overview, "overview"},
    {TourPanel::Timing, "timing"}};
constexpr std::pair<TourHighlight, std::string_view> kHighlightNames[] = {
    {TourHighlight::None, "none"},
    {TourHighlight::BetaStrip, "beta_strip"},
    {TourHighlight::DeathIndices, "death_indices"},
    {TourHighlight::Answers, "answers"},
    {TourHighlight::SkippedTiles, "skipped_tiles"},
    {TourHighlight::GatheredKeys, "gathered_keys"},
    {TourHighlight::DensityLabels, "density_labels"}};

template <class Enum, std::size_t N>
Enum enum_from_name(const std::pair<Enum, std::string_view> (&names)[N], const json& value, const std::string& where,
                    const char* key) {
  std::string list;
  for (const auto& [known, name] : names) {
    if (value.is_string() && value.get<std::string>() == name) return known;
    list += fmt::format("{}{}", list.empty() ? "" : ", ", name);
  }
  fail("{}: \"{}\" {} is not one of: {}", where, key, value.dump(), list);
}

// The step's optional "panels", "highlight" and "cites" (tour_file.h says what they mean).
void parse_presentation(const json& step, TourStep& parsed, const std::string& where) {
  if (const auto panels = step.find("panels"); panels != step.end()) {
    if (!panels->is_array() || panels->empty() || panels->size() > kMaxTourPanels)
      fail("{}: \"panels\" must be an array of 1 to {} panel names", where, kMaxTourPanels);
    parsed.panels.clear();
    for (const json& name : *panels) {
      const TourPanel panel = enum_from_name(kPanelNames, name, where, "panels");
      if (std::find(parsed.panels.begin(), parsed.panels.end(), panel) != parsed.panels.end())
        fail("{}: \"panels\" names {} twice", where, name.dump());
      parsed.panels.push_back(panel);
    }
  }
  if (const auto highlight = step.find("highlight"); highlight != step.end())
    parsed.highlight = enum_from_name(kHighlightNames, *highlight, where, "highlight");
  if (const auto cites = step.find("cites"); cites != step.end()) {
    if (!cites->is_array()) fail("{}: \"cites\" must be an array of strings", where);
    for (const json& cite : *cites) {
      if (!cite.is_string() || cite.get<std::string>().empty())
        fail("{}: \"cites\" must hold non-empty strings, got {}", where, cite.dump());
      if (parsed.caption.find(cite.get<std::string>()) == std::string::npos)
        fail("{}: cites \"{}\", which the caption does not say", where, cite.get<std::string>());
      parsed.cites.push_back(cite.get<std::string>());
    }
  }
}

}  // namespace

std::string_view tour_panel_name(TourPanel panel) {
  for (const auto& [known, name] : kPanelNames)
    if (known == panel) return name;
  return "?";
}

std::string_view tour_highlight_name(TourHighlight highlight) {
  for (const auto& [known, name] : kHighlightNames)
    if (known == highlight) return name;
  return "?";
}

int caption_sentence_count(std::string_view caption) {
  int sentences = 0;
  bool open = false;  // text seen since the last end mark
  for (std::size_t n = 0; n < caption.size(); ++n) {
    const char c = caption[n];
    const bool end_mark = (c == '.' || c == '!' || c == '?') &&
                          (n + 1 == caption.size() || caption[n + 1] == ' ' || caption[n + 1] == '\n');
    if (end_mark) {
      if (open) ++sentences;
      open = false;
    } else if (c != ' ' && c != '\n') {
      open = true;
    }
  }
  return sentences + (open ? 1 : 0);
}

Tour tour_from_json(std::string_view json_text, const fs::path& file) {
  const std::string name = printable(file.string());
  json document;
  try {
    document = json::parse(json_text);
  } catch (const json::exception& error) {
    fail("{}: not a JSON tour file: {}", name, printable(error.what()));
  }
  if (!document.is_object() || !document.contains("dmascope_tour"))
    fail("{}: not a dmascope tour (no \"dmascope_tour\" version key)", name);
  if (document["dmascope_tour"] != kTourVersion)
    fail("{}: dmascope_tour version {} is not supported (expected {})", name,
         printable(document["dmascope_tour"].dump(-1, ' ', true, json::error_handler_t::replace)),
         kTourVersion);
  check_keys(document, {"dmascope_tour", "title", "base_session", "steps"}, name);
  Tour tour;
  tour.file = file;
  tour.title = string_key(document, "title", name);
  const json base = document.value("base_session", json::object());
  if (!base.is_object()) fail("{}: \"base_session\" must be an object", name);
  const auto steps = document.find("steps");
  if (steps == document.end() || !steps->is_array() || steps->empty())
    fail("{}: \"steps\" must be a non-empty array", name);
  const fs::path tour_dir = file.parent_path();
  for (std::size_t index = 0; index < steps->size(); ++index) {
    const json& step = (*steps)[index];
    std::string where = fmt::format("{}: step {}", name, index + 1);
    if (!step.is_object()) fail("{} must be an object", where);
    check_keys(step, {"title", "caption", "session", "panels", "highlight", "cites"}, where);
    TourStep parsed;
    parsed.title = string_key(step, "title", where);
    where += fmt::format(" (\"{}\")", printable(parsed.title));
    parsed.caption = string_key(step, "caption", where);
    if (parsed.title.empty() || parsed.title.size() > kMaxTitleBytes)
      fail("{}: the title must have 1 to {} bytes", where, kMaxTitleBytes);
    const int sentences = caption_sentence_count(parsed.caption);
    if (sentences < 1 || sentences > kMaxCaptionSentences)
      fail("{}: the caption must have 1 to {} sentences, it has {}", where, kMaxCaptionSentences, sentences);
    if (parsed.caption.size() > kMaxCaptionBytes)
      fail("{}: the caption has {} bytes, at most {} fit the caption bar", where, parsed.caption.size(),
           kMaxCaptionBytes);
    parse_presentation(step, parsed, where);
    const auto session = step.find("session");
    if (session == step.end()) fail("{}: \"session\" is missing (an object or a path to a session file)", where);
    if (session->is_string()) {
      parsed.session = session_at_path(session->get<std::string>(), tour_dir, where);
    } else {
      json merged = base;
      merged.merge_patch(*session);
      parsed.session = inline_session(std::move(merged), tour_dir, where);
    }
    tour.steps.push_back(std::move(parsed));
  }
  return tour;
}

Tour load_tour(const fs::path& file) {
  return tour_from_json(read_text_file(file, "the tour file", kMaxTourFileBytes), file);
}

}  // namespace dmascope::engine
