// Session files: the pipeline settings and the view state as JSON, so that `dmascope --session FILE` reproduces a view
// exactly (same settings → same result; same view → same pixels). Unknown keys are ignored and missing ones keep their
// defaults, so older files still open; wrong types or values are errors that name the key.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "engine/pipeline/pipeline_settings.h"
#include "engine/session/lab_session.h"
#include "engine/session/view_state.h"

namespace dmascope::engine {

// What a session file may hold: the text of a sequence of kMaxLength tokens at 8 bytes a token (English text takes
// about 4), and a file with room for that text or kMaxLength ids. Without these caps a 300k-id session took minutes
// and gigabytes before the length check could refuse it.
inline constexpr std::size_t kMaxSessionTextBytes = 8 * static_cast<std::size_t>(kMaxLength);
inline constexpr std::uint64_t kMaxSessionFileBytes = 8ull << 20;

struct Session {
  PipelineSettings settings;
  ViewState view;
  LabSessionSettings lab;  // the Mask lab's settings (section "lab"; absent in older files: the defaults)
};

std::string session_to_json(const Session& session);
Session session_from_json(std::string_view json_text, std::string_view source_name);

Session load_session(const std::filesystem::path& path);
void save_session(const std::filesystem::path& path, const Session& session);  // atomic write

}  // namespace dmascope::engine
