// The recent list of model folders the Source panel offers: remembered across launches in
// $XDG_CONFIG_HOME/dmascope/recent.json (else ~/.config/dmascope/recent.json), most recent first, at most
// kMaxRecentModels, written atomically. A file that cannot be read or parsed gives an empty list and a message that
// says why (shown greyed in the panel), never an exception: the list is a convenience and must not stop the app.
//
//   {"dmascope_recent_models": 1, "models": ["/path/a", "/path/b"]}
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace dmascope::engine {

inline constexpr std::size_t kMaxRecentModels = 10;

struct RecentModels {
  std::vector<std::filesystem::path> dirs;  // most recent first, no duplicates, at most kMaxRecentModels
  std::string problem;                      // why the file was not used ("" when it was, or when there was none)
};

// The file's location; empty when neither XDG_CONFIG_HOME nor HOME is set (then nothing is remembered).
std::filesystem::path recent_models_file();

// `dir` to the front; an equal entry (same folder after lexical normalisation, trailing '/' ignored) moves rather
// than repeats; the oldest fall off past kMaxRecentModels. An empty path changes nothing.
void add_recent_model(RecentModels& recent, const std::filesystem::path& dir);

RecentModels parse_recent_models(std::string_view json_text, std::string_view source_name);  // never throws
std::string recent_models_to_json(const RecentModels& recent);

RecentModels load_recent_models(const std::filesystem::path& file);  // a missing file: empty, no problem
// Atomic (core/formats/atomic_write.h), creating the folder. Returns "" or what went wrong.
std::string save_recent_models(const std::filesystem::path& file, const RecentModels& recent);

// Why a remembered folder cannot be opened now ("folder not found", "no config.json"), or "" when it looks usable.
// Only stat calls: nothing is loaded.
std::string recent_model_problem(const std::filesystem::path& dir);

}  // namespace dmascope::engine
