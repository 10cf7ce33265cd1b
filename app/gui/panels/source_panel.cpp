// The Source panel: which model (path, bundled default, Hugging Face cache, recent folders), which tokens (toy sequence, text, ids),
// the compute settings (w, mask variant, tile size, backend), and the session/PNG files. Edits go to state.edit and
// reach the pipeline when they are complete (a slider released, a combo picked, Enter in a text box).
#include <imgui.h>
#include <imgui_stdlib.h>

#include <fmt/format.h>

#include <charconv>
#include <sstream>

#include "app/gui/engine_vocabulary.h"
#include "engine/timing/layer_timing.h"
#include "app/gui/panels/panels.h"
#include "engine/session/recent_models.h"
#include "engine/pipeline/toy_answers.h"
#include "core/base/error.h"

namespace dmascope::gui {

namespace {

void mark_complete(AppState& state, bool complete) { state.edit_complete |= complete; }

std::vector<std::int32_t> parse_ids(const std::string& text) {
  std::vector<std::int32_t> ids;
  std::string token;
  std::istringstream stream(text);
  while (std::getline(stream, token, ',')) {
    const auto begin = token.find_first_not_of(" \t\n"), end = token.find_last_not_of(" \t\n");
    if (begin == std::string::npos) continue;
    std::int32_t id = 0;
    const char* first = token.data() + begin;
    const char* last = token.data() + end + 1;
    const auto [stop, error] = std::from_chars(first, last, id);
    if (error != std::errc() || stop != last) fail("'{}' is not a token id", std::string(first, last));
    ids.push_back(id);
  }
  return ids;
}

std::string join_ids(const std::vector<std::int32_t>& ids) {
  std::string text;
  for (std::size_t n = 0; n < ids.size(); ++n) {
    if (n) text += ',';
    text += std::to_string(ids[n]);
  }
  return text;
}

// A result whose model loaded goes to the front of the recent list (and the file), once per model folder.
void record_recent_model(AppState& state, const PipelineResult* result) {
  if (!result || state.recent_models_path.empty() || result->model->dir == state.recent_recorded) return;
  state.recent_recorded = result->model->dir;
  add_recent_model(state.recent_models, result->model->dir);
  if (const std::string problem = save_recent_models(state.recent_models_path, state.recent_models); !problem.empty())
    state.recent_models.problem = "the recent list was not saved: " + problem;
}

// The recent folders, most recent first; one that is gone (or lost its config.json) is greyed with the reason.
void recent_models_combo(AppState& state) {
  PipelineSettings& edit = state.edit;
  const RecentModels& recent = state.recent_models;
  const std::string preview = recent.dirs.empty() ? std::string("(no recent model folders)")
                                                 : fmt::format("recent folders ({})…", recent.dirs.size());
  ImGui::SetNextItemWidth(-1);
  if (!ImGui::BeginCombo("##recent", preview.c_str())) {
    if (!recent.problem.empty() && ImGui::IsItemHovered()) ImGui::SetTooltip("%s", recent.problem.c_str());
    return;
  }
  for (std::size_t n = 0; n < recent.dirs.size(); ++n) {
    const std::filesystem::path& dir = recent.dirs[n];
    const std::string problem = recent_model_problem(dir);  // a few stat calls, only while the list is open
    ImGui::PushID(static_cast<int>(n));
    ImGui::BeginDisabled(!problem.empty());
    const std::string label = problem.empty() ? dir.string() : fmt::format("{}  ({})", dir.string(), problem);
    if (ImGui::Selectable(label.c_str(), edit.model_dir == dir.string())) {
      edit.model_dir = dir.string();
      state.edit_complete = true;
    }
    ImGui::EndDisabled();
    ImGui::PopID();
  }
  if (!recent.problem.empty()) ImGui::TextDisabled("%s", recent.problem.c_str());
  if (recent.dirs.empty() && recent.problem.empty())
    ImGui::TextDisabled(state.recent_models_path.empty() ? "not remembered (no config folder)"
                                                         : "models you open are listed here");
  ImGui::EndCombo();
}

void model_section(AppState& state, const PipelineResult* result) {
  PipelineSettings& edit = state.edit;
  record_recent_model(state, result);
  ImGui::TextDisabled("Model");
  ImGui::SetNextItemWidth(-ImGui::GetFontSize() * 4);
  ImGui::InputText("##model", &edit.model_dir, ImGuiInputTextFlags_EnterReturnsTrue);
  mark_complete(state, ImGui::IsItemDeactivatedAfterEdit());
  // A long path is cut at the field's edge: the whole one on hover.
  if (ImGui::IsItemHovered() && !ImGui::IsItemActive()) ImGui::SetTooltip("%s", edit.model_dir.c_str());
  ImGui::SameLine();
  if (ImGui::Button("load")) state.edit_complete = true;
  if (ImGui::Button("bundled default")) {
    edit.model_dir = state.default_model.string();
    state.edit_complete = true;
  }
  // On a line of its own, full width: beside the button its preview was cut at the panel's default width.
  const std::string preview = state.cached_models.empty()
                                  ? std::string("(no Hugging Face models cached)")
                                  : fmt::format("Hugging Face cache ({} models)…", state.cached_models.size());
  ImGui::SetNextItemWidth(-1);
  const bool hf_open = ImGui::BeginCombo("##hf", preview.c_str());
  if (!hf_open && ImGui::IsItemHovered())
    ImGui::SetTooltip("%s\nmodels in %s", preview.c_str(), huggingface_hub_dir().string().c_str());
  if (hf_open) {
    for (const CachedModel& model : state.cached_models)
      if (ImGui::Selectable(model.label.c_str(), edit.model_dir == model.dir.string())) {
        edit.model_dir = model.dir.string();
        state.edit_complete = true;
      }
    if (ImGui::Selectable("rescan the cache")) state.cached_models = find_cached_models(huggingface_hub_dir());
    ImGui::EndCombo();
  }
  recent_models_combo(state);
}

const char* toy_task_description(ToyTask task) {
  switch (task) {
    case ToyTask::Mqar: return "multi-query associative recall: key/value pairs, then each key again; the answer is "
                               "its value";
    case ToyTask::Needle: return "a few key/value pairs hidden in filler, then <ask> key; the answer is its value";
    case ToyTask::Copy: return "a segment, filler, then the segment again; each next token is an answer";
  }
  return "";
}


// The length slider and the seed box of the generated sources (toy sequences, trained tasks).
void length_and_seed(AppState& state, const std::int64_t& min_length, const char* seed_label) {
  PipelineSettings& edit = state.edit;
  ImGui::SetNextItemWidth(-ImGui::GetFontSize() * 4);
  ImGui::SliderScalar("length", ImGuiDataType_S64, &edit.length, &min_length, &kMaxLength, "%lld tokens",
                      ImGuiSliderFlags_Logarithmic | ImGuiSliderFlags_AlwaysClamp);
  mark_complete(state, ImGui::IsItemDeactivatedAfterEdit());
  int seed = static_cast<int>(edit.seed);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 7);
  if (ImGui::InputInt(seed_label, &seed)) edit.seed = static_cast<std::uint64_t>(std::max(seed, 0));
  mark_complete(state, ImGui::IsItemDeactivatedAfterEdit());
}

void tokens_section(AppState& state, const PipelineResult* result) {
  PipelineSettings& edit = state.edit;
  ImGui::Separator();
  ImGui::TextDisabled("Tokens");
  int source = static_cast<int>(edit.source);
  const bool has_tokenizer = result && result->model->tokenizer && result->settings.model_dir == edit.model_dir;
  mark_complete(state, ImGui::RadioButton("toy sequence", &source, 0));
  ImGui::SameLine();
  ImGui::BeginDisabled(!has_tokenizer && edit.source != SourceKind::Text);
  mark_complete(state, ImGui::RadioButton("text", &source, 1));
  ImGui::EndDisabled();
  ImGui::SameLine();
  mark_complete(state, ImGui::RadioButton("ids", &source, 2));
  // The trained tasks are sequences of the bundled toy models' vocabulary: offered when the model speaks it.
  const bool toy_vocabulary = result && result->settings.model_dir == edit.model_dir &&
                              uses_toy_vocabulary(*result->model);
  ImGui::BeginDisabled(!toy_vocabulary && edit.source != SourceKind::Task);
  mark_complete(state, ImGui::RadioButton("trained task (answers scored)", &source, 3));
  ImGui::EndDisabled();
  edit.source = static_cast<SourceKind>(source);

  if (edit.source == SourceKind::Toy) {
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 9);
    if (ImGui::BeginCombo("kind", std::string(toy_sequence_name(edit.toy)).c_str())) {
      for (ToySequenceKind kind : kToySequenceKinds)
        if (ImGui::Selectable(std::string(toy_sequence_name(kind)).c_str(), kind == edit.toy)) {
          edit.toy = kind;
          state.edit_complete = true;
        }
      ImGui::EndCombo();
    }
    ImGui::TextWrapped("%s", std::string(toy_sequence_description(edit.toy)).c_str());
    length_and_seed(state, kMinLength, "seed");
  } else if (edit.source == SourceKind::Task) {
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 9);
    if (ImGui::BeginCombo("task", std::string(toy_task_name(edit.task)).c_str())) {
      for (ToyTask task : {ToyTask::Mqar, ToyTask::Needle, ToyTask::Copy})
        if (ImGui::Selectable(std::string(toy_task_name(task)).c_str(), task == edit.task)) {
          edit.task = task;
          state.edit_complete = true;
        }
      ImGui::EndCombo();
    }
    ImGui::TextWrapped("%s", toy_task_description(edit.task));
    length_and_seed(state, kMinTaskLength, "example");
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyle().Colors[ImGuiCol_TextDisabled]);
    ImGui::TextWrapped("the models were trained at 256 tokens; longer ones test length generalization");
    ImGui::PopStyleColor();
  } else if (edit.source == SourceKind::Text) {
    if (!has_tokenizer) ImGui::TextDisabled("(this model has no tokenizer.json)");
    ImGui::InputTextMultiline("##text", &edit.text, ImVec2(-1, ImGui::GetTextLineHeight() * 4));
    mark_complete(state, ImGui::IsItemDeactivatedAfterEdit());
    ImGui::TextDisabled("applied when the box loses focus");
  } else {
    if (state.ids_text.empty() && !edit.ids.empty()) state.ids_text = join_ids(edit.ids);
    ImGui::InputTextMultiline("##ids", &state.ids_text, ImVec2(-1, ImGui::GetTextLineHeight() * 3));
    if (ImGui::IsItemDeactivatedAfterEdit()) {
      try {
        edit.ids = parse_ids(state.ids_text);
        state.edit_complete = true;
        state.ui_error.clear();
      } catch (const Error& error) {
        state.ui_error = fmt::format("ids: {}", error.what());
      }
    }
    ImGui::TextDisabled("comma-separated token ids");
  }
}

void compute_section(AppState& state, const PipelineResult* result) {
  PipelineSettings& edit = state.edit;
  ImGui::Separator();
  ImGui::TextDisabled("Mask and kernel");
  bool model_window = edit.window == 0;
  if (ImGui::Checkbox("model's w", &model_window)) {
    edit.window = model_window ? 0 : (result ? result->forward.window : 16);
    state.edit_complete = true;
  }
  ImGui::SameLine();
  ImGui::BeginDisabled(model_window);
  std::int64_t shown = model_window && result ? result->forward.window : std::max<std::int64_t>(edit.window, 1);
  const std::int64_t min_window = 1, max_window = kMaxLength;
  ImGui::SetNextItemWidth(-ImGui::GetFontSize() * 2);
  if (ImGui::SliderScalar("w", ImGuiDataType_S64, &shown, &min_window, &max_window, "%lld keys per row",
                          ImGuiSliderFlags_Logarithmic | ImGuiSliderFlags_AlwaysClamp))
    edit.window = shown;
  mark_complete(state, ImGui::IsItemDeactivatedAfterEdit());
  ImGui::EndDisabled();

  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 9);
  if (ImGui::BeginCombo("mask variant", std::string(mask_variant_name(edit.mask_variant)).c_str())) {
    for (MaskVariant variant : {MaskVariant::PerRowTopK, MaskVariant::SharedTopK})
      if (ImGui::Selectable(std::string(mask_variant_name(variant)).c_str(), variant == edit.mask_variant)) {
        edit.mask_variant = variant;
        state.edit_complete = true;
      }
    ImGui::EndCombo();
  }
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 9);
  if (ImGui::BeginCombo("tile size", fmt::format("{}x{}", edit.tile_size, edit.tile_size).c_str())) {
    for (std::int64_t size : {8, 16, 32, 64, 128})
      if (ImGui::Selectable(fmt::format("{}x{}", size, size).c_str(), size == edit.tile_size)) {
        edit.tile_size = size;
        state.edit_complete = true;
      }
    ImGui::EndCombo();
  }
  std::string why_not;
  const bool cuda_available = cuda_backend_available(&why_not);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 9);
  if (ImGui::BeginCombo("backend", edit.backend == Backend::Cpu ? "CPU" : "CUDA")) {
    if (ImGui::Selectable("CPU", edit.backend == Backend::Cpu)) {
      edit.backend = Backend::Cpu;
      state.edit_complete = true;
    }
    ImGui::BeginDisabled(!cuda_available);
    if (ImGui::Selectable("CUDA", edit.backend == Backend::Cuda)) {
      edit.backend = Backend::Cuda;
      state.edit_complete = true;
    }
    ImGui::EndDisabled();
    if (!cuda_available && ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
      ImGui::SetTooltip("%s", why_not.c_str());
    ImGui::EndCombo();
  }
  // The dtype of the CUDA timing (bf16 or fp16); the CPU kernels are fp32 whatever this says.
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 9);
  ImGui::BeginDisabled(edit.backend != Backend::Cuda);
  if (ImGui::BeginCombo("dtype", edit.backend == Backend::Cuda ? std::string(precision_name(edit.timing_dtype)).c_str()
                                                                : "fp32 (CPU)")) {
    for (Precision dtype : {Precision::BF16, Precision::F16})
      if (ImGui::Selectable(std::string(precision_name(dtype)).c_str(), dtype == edit.timing_dtype)) {
        edit.timing_dtype = dtype;
        state.edit_complete = true;
      }
    ImGui::EndCombo();
  }
  ImGui::EndDisabled();
  if (edit.backend != Backend::Cuda && ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
    ImGui::SetTooltip("the CPU kernels compute in fp32; bf16 / fp16 is the CUDA timing's dtype");
  // The CUDA forward's precision: bf16 (the default; transformers' bf16 numbers, on the timed kernels) or fp32.
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 9);
  ImGui::BeginDisabled(edit.backend != Backend::Cuda);
  if (ImGui::BeginCombo("forward", edit.backend == Backend::Cuda
                                       ? std::string(precision_name(edit.model_precision)).c_str()
                                       : "fp32 (CPU)")) {
    for (Precision precision : {Precision::BF16, Precision::F32})
      if (ImGui::Selectable(std::string(precision_name(precision)).c_str(), precision == edit.model_precision)) {
        edit.model_precision = precision;
        state.edit_complete = true;
      }
    ImGui::EndCombo();
  }
  ImGui::EndDisabled();
  if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
    ImGui::SetTooltip("the model forward's precision on CUDA: bf16 as transformers runs the model on the GPU (β and the "
                      "mask in bf16, ties to the lower index), or fp32, the exact reference; the CPU forward is fp32");
  ImGui::TextDisabled("the forward runs on the backend;\nTiming measures its kernels");
}

void files_section(AppState& state) {
  ImGui::Separator();
  ImGui::TextDisabled("Session and export");
  ImGui::SetNextItemWidth(-ImGui::GetFontSize() * 7);
  ImGui::InputText("##session", &state.session_path);
  ImGui::SameLine();
  if (ImGui::Button("save")) save_session_action(state);
  ImGui::SameLine();
  if (ImGui::Button("open")) load_session_action(state);
  ImGui::SetNextItemWidth(-ImGui::GetFontSize() * 7);
  ImGui::InputText("export folder", &state.export_folder);
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("PNG, CSV and mask exports go here, named for what they hold (model, layer, head, L, w);\n"
                      "an earlier export is never replaced: a taken name gets -2, -3, ...");
  if (ImGui::Button("save PNG")) state.png_request = PngRequest{window_png_name(state.pipeline.result().get(), state.view), std::nullopt};
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Ctrl+P: the window as a PNG, into the export folder");
  ImGui::SameLine();
  if (ImGui::Button("export masks")) export_masks_action(state);
  if (ImGui::IsItemHovered())
    ImGui::SetTooltip("Ctrl+E: per layer death [Hb, L] int32 and dyn_bias [Hb, L] fp32, the token ids and the\n"
                      "settings, as safetensors");
}

}  // namespace

void draw_source_panel(AppState& state) {
  place_panel(PanelSlot::Source);
  if (!ImGui::Begin("Source")) {
    ImGui::End();
    return;
  }
  const auto result = state.pipeline.result();
  model_section(state, result.get());
  tokens_section(state, result.get());
  compute_section(state, result.get());
  files_section(state);
  ImGui::Separator();
  if (ImGui::Button("recompute (F5)")) state.pipeline.retry();
  ImGui::SameLine();
  ImGui::BeginDisabled(!state.pipeline.status().running);
  if (ImGui::Button("cancel (Esc)")) state.pipeline.cancel();
  ImGui::EndDisabled();
  ImGui::SameLine();
  if (ImGui::Button("help (F1)")) state.show_help = !state.show_help;
  ImGui::SameLine();
  if (ImGui::Button("mask lab (F3)")) state.lab.open = !state.lab.open;
  ImGui::End();
}

}  // namespace dmascope::gui
