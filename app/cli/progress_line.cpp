#include "app/cli/progress_line.h"

#include <fmt/core.h>
#include <unistd.h>

#include <cstdio>

namespace dmascope::cli {

ProgressLine::ProgressLine(std::string label, bool quiet)
    : label_(std::move(label)), shown_(!quiet && isatty(STDERR_FILENO) == 1) {}

ProgressLine::~ProgressLine() { clear(); }

void ProgressLine::update(const std::string& status) {
  if (!shown_) return;
  // \r and "erase to the end of the line" (ESC [ K): the new status replaces the old one, however long it was.
  fmt::print(stderr, "\r\x1b[K{}: {}", label_, status);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressLine::clear() {
  if (!drawn_) return;
  fmt::print(stderr, "\r\x1b[K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace dmascope::cli
