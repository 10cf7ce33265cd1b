// libFuzzer target: session files never crash the parser; bad input only ever raises dmascope::Error, and what is
// accepted keeps the caps a session promises (length, ids, text), so that a session cannot make the pipeline hang.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/base/error.h"
#include "engine/session/session_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dmascope::engine;
  try {
    const Session session =
        session_from_json(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz/session.json");
    const PipelineSettings& s = session.settings;
    if (s.length < kMinLength || s.length > kMaxLength || static_cast<std::int64_t>(s.ids.size()) > kMaxLength ||
        s.text.size() > kMaxSessionTextBytes || session.view.layer < 0 || session.view.head < 0)
      std::abort();
    session_from_json(session_to_json(session), "fuzz/round-trip.json");  // what is accepted is written back readable
  } catch (const dmascope::Error&) {
  }
  return 0;
}
