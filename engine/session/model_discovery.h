// Model folders the Source panel offers: the bundled default and the Hugging Face cache's snapshots that hold a
// config.json (hub/models--ORG--NAME/snapshots/REVISION/). Only directory listings: nothing is loaded here.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace dmascope::engine {

// The bundled tiny random Doge: $DMASCOPE_DEFAULT_MODEL, else models/doge-tiny-random of bundled_assets_dir()
// (installed next to the executable, else the source tree's assets/).
std::filesystem::path bundled_default_model();

// $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.
std::filesystem::path huggingface_hub_dir();

struct CachedModel {
  std::string label;             // "ORG/NAME @ revision-prefix"
  std::filesystem::path dir;     // the snapshot folder
};
std::vector<CachedModel> find_cached_models(const std::filesystem::path& hub_dir);  // sorted by label; never throws

}  // namespace dmascope::engine
