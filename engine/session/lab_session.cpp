#include "engine/session/lab_session.h"

#include <fmt/format.h>

#include "core/base/error.h"

namespace dmascope::engine {

DamSource dam_source_from_name(std::string_view name) {
  for (DamSource source : {DamSource::Task, DamSource::Text, DamSource::Random})
    if (dam_source_name(source) == name) return source;
  throw Error(fmt::format("unknown DAM calibration source '{}' (expected task, text or random)", name));
}

}  // namespace dmascope::engine
