// The app is thin panels over the engine (engine/): inside dmascope::gui its names (PipelineSettings, PipelineResult,
// LayerTiming, SessionFile, ...) are used unqualified, as the app's own vocabulary.
#pragma once

namespace dmascope::engine {}

namespace dmascope::gui {
using namespace dmascope::engine;
}  // namespace dmascope::gui
