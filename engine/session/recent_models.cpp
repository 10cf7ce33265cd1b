#include "engine/session/recent_models.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>

#include "core/base/error.h"
#include "core/base/printable.h"
#include "core/base/regular_file.h"
#include "core/formats/atomic_write.h"

namespace dmascope::engine {

namespace fs = std::filesystem;

namespace {

constexpr int kFormatVersion = 1;
constexpr std::uintmax_t kMaxFileBytes = 1 << 20;  // a list of ten paths; anything bigger is not ours

// "/a/b/", "/a/./b" and "/a/b" are the same folder; symlinks are not resolved (the folder may be gone).
fs::path normalised(const fs::path& dir) {
  fs::path path = dir.lexically_normal();
  if (!path.has_filename() && path.has_parent_path() && path != path.root_path()) path = path.parent_path();
  return path;
}

}  // namespace

fs::path recent_models_file() {
  const char* config = std::getenv("XDG_CONFIG_HOME");
  const char* home = std::getenv("HOME");
  if (config && *config) return fs::path(config) / "dmascope/recent.json";
  if (home && *home) return fs::path(home) / ".config/dmascope/recent.json";
  return {};
}

void add_recent_model(RecentModels& recent, const fs::path& dir) {
  if (dir.empty()) return;
  const fs::path entry = normalised(dir);
  auto& dirs = recent.dirs;
  dirs.erase(std::remove_if(dirs.begin(), dirs.end(), [&](const fs::path& other) { return normalised(other) == entry; }),
             dirs.end());
  dirs.insert(dirs.begin(), entry);
  if (dirs.size() > kMaxRecentModels) dirs.resize(kMaxRecentModels);
}

RecentModels parse_recent_models(std::string_view json_text, std::string_view source_name) {
  RecentModels recent;
  auto refuse = [&](const std::string& why) {
    recent.dirs.clear();
    recent.problem = fmt::format("{}: {} (the recent list starts empty)", source_name, why);
    return recent;
  };
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& error) {
    return refuse(fmt::format("not JSON ({})", error.what()));
  }
  if (!document.is_object()) return refuse("expected a JSON object");
  const auto version = document.find("dmascope_recent_models");
  if (version == document.end() || !version->is_number_integer() || version->get<int>() != kFormatVersion)
    return refuse(fmt::format("\"dmascope_recent_models\" must be {}", kFormatVersion));
  const auto models = document.find("models");
  if (models == document.end() || !models->is_array()) return refuse("\"models\" must be an array of folder paths");
  // Read oldest first so that add_recent_model's dedupe and cap give the file's order back.
  for (auto entry = models->rbegin(); entry != models->rend(); ++entry) {
    if (!entry->is_string() || entry->get_ref<const std::string&>().empty())
      return refuse("every entry of \"models\" must be a non-empty string");
    add_recent_model(recent, entry->get<std::string>());
  }
  return recent;
}

std::string recent_models_to_json(const RecentModels& recent) {
  nlohmann::json models = nlohmann::json::array();
  for (const fs::path& dir : recent.dirs) models.push_back(dir.string());
  return nlohmann::json{{"dmascope_recent_models", kFormatVersion}, {"models", models}}.dump(2) + "\n";
}

RecentModels load_recent_models(const fs::path& file) {
  std::error_code error;
  if (file.empty() || !fs::exists(file, error)) return {};
  std::string text;
  try {
    text = read_regular_file(file, "the recent-models list", kMaxFileBytes);
  } catch (const Error& problem) {
    RecentModels recent;
    recent.problem = fmt::format("{} (the list starts empty)", problem.what());
    return recent;
  }
  return parse_recent_models(text, printable(file.string()));
}

std::string save_recent_models(const fs::path& file, const RecentModels& recent) {
  if (file.empty()) return "no configuration folder (neither XDG_CONFIG_HOME nor HOME is set)";
  try {
    std::error_code error;
    fs::create_directories(file.parent_path(), error);
    if (error) return fmt::format("cannot create {}: {}", file.parent_path().string(), error.message());
    write_file_atomically(file, recent_models_to_json(recent));
    return {};
  } catch (const std::exception& error) {
    return error.what();
  }
}

std::string recent_model_problem(const fs::path& dir) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) return fs::exists(dir, error) ? "not a folder" : "folder not found";
  if (!fs::exists(dir / "config.json", error)) return "no config.json";
  return {};
}

}  // namespace dmascope::engine
