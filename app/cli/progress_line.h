// A one-line progress report on stderr for long dmascope-cli work ("forward: run 1/1, layer 3/8"), redrawn in place.
// Shown only when stderr is a terminal — a log file or a pipe gets no carriage-return noise, and the tests' captured
// output stays as it was — and never with --quiet.
#pragma once

#include <string>

namespace dmascope::cli {

class ProgressLine {
 public:
  ProgressLine(std::string label, bool quiet);
  ~ProgressLine();  // clears the line, so that the results print on a clean one
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  bool shown() const { return shown_; }
  void update(const std::string& status);  // "layer 3/8"
  void clear();

 private:
  std::string label_;
  bool shown_ = false;
  bool drawn_ = false;
};

}  // namespace dmascope::cli
