#include "engine/session/model_discovery.h"

#include <algorithm>
#include <cstdlib>
#include <string_view>
#include <system_error>

#include "engine/session/bundled_assets.h"

namespace dmascope::engine {

namespace fs = std::filesystem;

fs::path bundled_default_model() {
  if (const char* override_dir = std::getenv("DMASCOPE_DEFAULT_MODEL"); override_dir && *override_dir)
    return override_dir;
  return bundled_assets_dir() / "models/doge-tiny-random";
}

fs::path huggingface_hub_dir() {
  if (const char* hub = std::getenv("HF_HUB_CACHE"); hub && *hub) return hub;
  if (const char* home = std::getenv("HF_HOME"); home && *home) return fs::path(home) / "hub";
  const char* user_home = std::getenv("HOME");
  return fs::path(user_home ? user_home : "/") / ".cache/huggingface/hub";
}

std::vector<CachedModel> find_cached_models(const fs::path& hub_dir) {
  std::vector<CachedModel> found;
  std::error_code error;
  for (fs::directory_iterator repo(hub_dir, error), end; !error && repo != end; repo.increment(error)) {
    const std::string name = repo->path().filename().string();
    if (name.rfind("models--", 0) != 0) continue;
    // models--ORG--NAME → ORG/NAME (built by appends: GCC 12 warns falsely, -Wrestrict, on replace() here)
    std::string label;
    const std::string_view repo_id = std::string_view(name).substr(8);
    if (const auto split = repo_id.find("--"); split != std::string_view::npos)
      label.append(repo_id.substr(0, split)).append("/").append(repo_id.substr(split + 2));
    else
      label.append(repo_id);
    std::error_code snapshot_error;
    for (fs::directory_iterator snapshot(repo->path() / "snapshots", snapshot_error), last;
         !snapshot_error && snapshot != last; snapshot.increment(snapshot_error)) {
      std::error_code exists_error;
      if (!fs::exists(snapshot->path() / "config.json", exists_error)) continue;
      std::string shown = label;
      shown.append(" @ ").append(snapshot->path().filename().string().substr(0, 8));
      found.push_back({std::move(shown), snapshot->path()});
    }
  }
  std::sort(found.begin(), found.end(), [](const CachedModel& a, const CachedModel& b) { return a.label < b.label; });
  return found;
}

}  // namespace dmascope::engine
