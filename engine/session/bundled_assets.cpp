#include "engine/session/bundled_assets.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <system_error>

#include "core/base/regular_file.h"
#include "core/model/doge_config.h"

namespace dmascope::engine {

namespace fs = std::filesystem;

namespace {

// False when the file is absent; a FIFO, a device or a file over the cap is an Error like any other bad file.
bool read_file(const fs::path& path, std::string& text) {
  constexpr std::uint64_t kMaxEvalExamplesBytes = 4ull << 20;  // a run name and a few accuracies
  std::error_code error;
  if (!fs::exists(path, error)) return false;
  text = read_regular_file(path, "the evaluation summary", kMaxEvalExamplesBytes);
  return true;
}

}  // namespace

std::optional<std::string> read_model_sample(const fs::path& model_dir) {
  const fs::path path = model_dir / "sample.txt";
  std::error_code error;
  if (!fs::exists(fs::symlink_status(path, error))) return std::nullopt;  // a dangling link is an error below
  std::string text = read_regular_file(path, "the model's sample text", kMaxSessionTextBytes);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

fs::path installed_assets_dir(const fs::path& executable) {
  const fs::path installed = executable.parent_path().parent_path() / "share/dmascope";
  std::error_code error;
  return fs::is_directory(installed / "models", error) ? installed : fs::path();
}

fs::path bundled_assets_dir() {
  // The installed tree first: an installed (or moved) copy must use its own assets even where the source tree it was
  // built from still exists. A build tree has no share/dmascope next to its binaries, so it reads the source tree's.
  std::error_code error;
  const fs::path executable = fs::read_symlink("/proc/self/exe", error);
  if (!error)
    if (fs::path installed = installed_assets_dir(executable); !installed.empty()) return installed;
  return fs::path(DMASCOPE_SOURCE_DIR) / "assets";  // errors will name this path when it is not there either
}

fs::path bundled_tour() { return bundled_assets_dir() / "tours/dma-intro.json"; }
fs::path bundled_recall_table() { return bundled_assets_dir() / "models/recall-table.json"; }
fs::path first_launch_model() { return bundled_assets_dir() / "models/doge-toy-mix"; }

Session first_launch_session(const fs::path& fallback_model) {
  Session session;
  const fs::path model = first_launch_model();
  std::error_code error;
  if (!fs::exists(model / "config.json", error)) {
    session.settings.model_dir = fallback_model.string();
    return session;
  }
  // An MQAR example generated in the training format, so that its answers are scored live: example 3 at 256 tokens
  // (the training length) asks 41 keys and the model answers 37 right — close to its held-out accuracy (74-90 % for
  // 48-16 pairs, bench/toy-recall), with a few errors to look at; the layer-1 masks keep the value of every question.
  session.settings.model_dir = model.string();
  session.settings.source = SourceKind::Task;
  session.settings.task = ToyTask::Mqar;
  session.settings.length = 256;
  session.settings.seed = 3;
  session.settings.window = 0;  // the model's keep_window_size, the budget it was trained with
  session.settings.tile_size = 16;
  // Layer 1's two bias heads share the work: bias head 0 keeps 26 of the 41 values, bias head 1 25, together all.
  session.view.layer = 1;
  return session;
}

std::vector<BundledModel> find_bundled_models() {
  std::vector<BundledModel> models;
  std::error_code error;
  const fs::path models_dir = bundled_assets_dir() / "models";
  for (fs::directory_iterator entry(models_dir, error), end; !error && entry != end; entry.increment(error)) {
    std::error_code exists_error;
    if (!fs::exists(entry->path() / "config.json", exists_error)) continue;
    BundledModel model;
    model.name = entry->path().filename().string();
    model.dir = entry->path();
    try {
      const DogeConfig config = DogeConfig::load(model.dir / "config.json");
      model.shape = fmt::format("{} layers, {} heads ({} kv), hidden {}, window {}, vocabulary {}",
                                config.num_hidden_layers, config.num_attention_heads, config.num_key_value_heads,
                                config.hidden_size, config.keep_window_size, config.vocab_size);
      model.sample_text = read_model_sample(model.dir);
      std::string text;
      if (read_file(model.dir / "eval_examples.json", text)) {
        const nlohmann::json examples = nlohmann::json::parse(text);
        model.run = examples.value("run", "");
        if (const auto accuracy = examples.find("heldout_accuracy"); accuracy != examples.end())
          for (const auto& item : accuracy->items()) model.heldout_accuracy.emplace_back(item.key(), item.value().get<double>());
      }
    } catch (const std::exception& failure) {
      model.error = failure.what();
    }
    models.push_back(std::move(model));
  }
  std::sort(models.begin(), models.end(), [](const BundledModel& a, const BundledModel& b) { return a.name < b.name; });
  return models;
}

}  // namespace dmascope::engine
