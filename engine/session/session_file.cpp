#include "engine/session/session_file.h"

#include <fmt/format.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "core/formats/atomic_write.h"
#include "core/formats/json_kind.h"
#include "core/base/error.h"
#include "core/base/printable.h"
#include "core/base/regular_file.h"

namespace dmascope::engine {

namespace {

using nlohmann::json;

constexpr int kSessionVersion = 1;

// Reads `key` of `object` into `value` when present; a type or range error names the file and the key (and a key or
// value from the file is escaped before it is shown). Integers are range-checked for their type: nlohmann's get<>
// would wrap 4294967297 to 1 and turn 2.5e10 into INT_MIN without a word.
template <class T>
void read_key(const json& object, const char* key, T& value, std::string_view source, std::string_view section) {
  const auto found = object.find(key);
  if (found == object.end()) return;
  const std::string where = fmt::format("{}: session key {}.{}", source, section, key);
  if constexpr (std::is_same_v<T, bool>) {
    if (!found->is_boolean()) fail("{}: expected true or false, got {}", where, json_kind(*found));
    value = found->get<bool>();
  } else if constexpr (std::is_same_v<T, std::uint64_t>) {
    value = json_unsigned(*found, where);
  } else if constexpr (std::is_integral_v<T>) {
    value = static_cast<T>(
        json_integer_in(*found, std::numeric_limits<T>::min(), std::numeric_limits<T>::max(), where));
  } else if constexpr (std::is_same_v<T, std::vector<std::int32_t>>) {
    if (!found->is_array()) fail("{}: expected an array of token ids, got {}", where, json_kind(*found));
    if (static_cast<std::int64_t>(found->size()) > kMaxLength)
      fail("{}: {} token ids, more than the {} a sequence may have", where, found->size(), kMaxLength);
    value.clear();
    for (std::size_t n = 0; n < found->size(); ++n)
      value.push_back(static_cast<std::int32_t>(json_integer_in(
          (*found)[n], 0, std::numeric_limits<std::int32_t>::max(), fmt::format("{}[{}]", where, n))));
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!found->is_string()) fail("{}: expected a string, got {}", where, json_kind(*found));
    value = found->get<std::string>();
  } else {
    static_assert(std::is_same_v<T, double>);
    if (!found->is_number()) fail("{}: expected a number, got {}", where, json_kind(*found));
    value = found->get<double>();
  }
}

template <class Enum, class FromName>
void read_enum(const json& object, const char* key, Enum& value, FromName from_name, std::string_view source,
               std::string_view section) {
  std::string name;
  if (!object.contains(key)) return;
  read_key(object, key, name, source, section);
  try {
    value = from_name(name);
  } catch (const Error& error) {
    fail("{}: session key {}.{}: {}", source, section, key, printable(error.what()));
  }
}

}  // namespace

std::string session_to_json(const Session& session) {
  const PipelineSettings& s = session.settings;
  const ViewState& v = session.view;
  json document = {
      {"dmascope_session", kSessionVersion},
      {"settings",
       {{"model_dir", s.model_dir},
        {"source", source_kind_name(s.source)},
        {"toy", toy_sequence_name(s.toy)},
        {"task", toy_task_name(s.task)},
        {"length", s.length},
        {"seed", s.seed},
        {"text", s.text},
        {"ids", s.ids},
        {"window", s.window},
        {"mask_variant", mask_variant_name(s.mask_variant)},
        {"tile_size", s.tile_size},
        {"backend", backend_name(s.backend)},
        {"dtype", precision_name(s.timing_dtype)},
        {"model_precision", precision_name(s.model_precision)}}},
      {"view",
       {{"layer", v.layer},
        {"head", v.head},
        {"quantity", heatmap_quantity_name(v.quantity)},
        {"colormap", colormap_name(v.colormap)},
        {"scale", color_scale_name(v.scale)},
        {"reduce", reduce_mode_name(v.reduce)},
        {"zoom", v.zoom_pan.zoom},
        {"center_row", v.zoom_pan.center_row},
        {"center_col", v.zoom_pan.center_col},
        {"zoom_length", v.zoom_pan_length}}},
      {"lab",
       {{"strategies", session.lab.strategies},
        {"window", session.lab.window},
        {"dense_with_bias", session.lab.dense_with_bias},
        {"dam_source", dam_source_name(session.lab.dam_source)},
        {"dam_sequences", session.lab.dam_sequences},
        {"dam_capture_length", session.lab.dam_capture_length},
        {"dam_text_file", session.lab.dam_text_file},
        {"budget_curves", session.lab.budget_curves},
        {"open", session.lab.open}}}};
  return document.dump(2) + "\n";
}

Session session_from_json(std::string_view json_text, std::string_view source) {
  json document;
  try {
    document = json::parse(json_text);
  } catch (const json::exception& error) {
    fail("{}: not a JSON session file: {}", source, printable(error.what()));
  }
  if (!document.is_object() || !document.contains("dmascope_session"))
    fail("{}: not a dmascope session (no \"dmascope_session\" version key)", source);
  const json& version = document["dmascope_session"];
  if (!version.is_number_integer() || version.get<std::int64_t>() < 1 || version.get<std::int64_t>() > kSessionVersion)
    fail("{}: key \"dmascope_session\" must be a session version (an integer from 1 to {}), got {}", source,
         kSessionVersion, printable(version.dump(-1, ' ', true, json::error_handler_t::replace).substr(0, 40)));
  Session session;
  const json settings = document.value("settings", json::object());
  const json view = document.value("view", json::object());
  if (!settings.is_object() || !view.is_object()) fail("{}: \"settings\" and \"view\" must be objects", source);

  PipelineSettings& s = session.settings;
  read_key(settings, "model_dir", s.model_dir, source, "settings");
  read_enum(settings, "source", s.source, source_kind_from_name, source, "settings");
  read_enum(settings, "toy", s.toy, toy_sequence_from_name, source, "settings");
  read_enum(settings, "task", s.task, toy_task_from_name, source, "settings");
  read_key(settings, "length", s.length, source, "settings");
  read_key(settings, "seed", s.seed, source, "settings");
  read_key(settings, "text", s.text, source, "settings");
  read_key(settings, "ids", s.ids, source, "settings");
  read_key(settings, "window", s.window, source, "settings");
  read_enum(settings, "mask_variant", s.mask_variant, mask_variant_from_name, source, "settings");
  read_key(settings, "tile_size", s.tile_size, source, "settings");
  read_enum(settings, "backend", s.backend, backend_from_name, source, "settings");
  read_enum(settings, "dtype", s.timing_dtype, timing_precision_from_name, source, "settings");
  read_enum(settings, "model_precision", s.model_precision, model_precision_from_name, source, "settings");
  if (s.length < kMinLength || s.length > kMaxLength)
    fail("{}: settings.length {} is outside [{}, {}]", source, s.length, kMinLength, kMaxLength);
  if (s.tile_size < kMinTileSize || s.tile_size > kMaxTileSize)
    fail("{}: settings.tile_size {} is outside [{}, {}]", source, s.tile_size, kMinTileSize, kMaxTileSize);
  if (s.text.size() > kMaxSessionTextBytes)
    fail("{}: settings.text has {} bytes, more than the {} a session may hold", source, s.text.size(),
         kMaxSessionTextBytes);
  if (s.window < 0) fail("{}: settings.window must be ≥ 0 (0 = the model's), got {}", source, s.window);

  ViewState& v = session.view;
  read_key(view, "layer", v.layer, source, "view");
  read_key(view, "head", v.head, source, "view");
  read_enum(view, "quantity", v.quantity, heatmap_quantity_from_name, source, "view");
  read_enum(view, "colormap", v.colormap, colormap_from_name, source, "view");
  read_enum(view, "scale", v.scale, color_scale_from_name, source, "view");
  read_enum(view, "reduce", v.reduce, reduce_mode_from_name, source, "view");
  read_key(view, "zoom", v.zoom_pan.zoom, source, "view");
  read_key(view, "center_row", v.zoom_pan.center_row, source, "view");
  read_key(view, "center_col", v.zoom_pan.center_col, source, "view");
  read_key(view, "zoom_length", v.zoom_pan_length, source, "view");
  if (v.layer < 0 || v.head < 0) fail("{}: view.layer and view.head must be ≥ 0", source);

  const json lab = document.value("lab", json::object());
  if (!lab.is_object()) fail("{}: \"lab\" must be an object", source);
  LabSessionSettings& l = session.lab;
  read_key(lab, "strategies", l.strategies, source, "lab");
  read_key(lab, "window", l.window, source, "lab");
  read_key(lab, "dense_with_bias", l.dense_with_bias, source, "lab");
  read_enum(lab, "dam_source", l.dam_source, dam_source_from_name, source, "lab");
  read_key(lab, "dam_sequences", l.dam_sequences, source, "lab");
  read_key(lab, "dam_capture_length", l.dam_capture_length, source, "lab");
  read_key(lab, "dam_text_file", l.dam_text_file, source, "lab");
  read_key(lab, "budget_curves", l.budget_curves, source, "lab");
  read_key(lab, "open", l.open, source, "lab");
  try {
    parse_strategy_list(l.strategies);
  } catch (const Error& error) {
    fail("{}: session key lab.strategies: {}", source, printable(error.what()));
  }
  if (l.window < 0 || l.window > kMaxLength)
    fail("{}: lab.window {} is outside [0, {}] (0 = the forward's)", source, l.window, kMaxLength);
  if (l.dam_sequences < 1 || l.dam_sequences > kMaxLabDamSequences)
    fail("{}: lab.dam_sequences {} is outside [1, {}]", source, l.dam_sequences, kMaxLabDamSequences);
  if (l.dam_capture_length < kMinLabCaptureLength || l.dam_capture_length > kMaxLabCaptureLength)
    fail("{}: lab.dam_capture_length {} is outside [{}, {}]", source, l.dam_capture_length, kMinLabCaptureLength,
         kMaxLabCaptureLength);
  return session;
}

Session load_session(const std::filesystem::path& path) {
  return session_from_json(read_regular_file(path, "the session file", kMaxSessionFileBytes),
                           printable(path.string()));
}

void save_session(const std::filesystem::path& path, const Session& session) {
  write_file_atomically(path, session_to_json(session));
}

}  // namespace dmascope::engine
