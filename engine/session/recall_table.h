// The recall table of the bundled toy models (assets/models/recall-table.json, written by tools/make_recall_table.py
// from bench/toy-recall's results): text cells under column names, shown as-is by the About / Tour window, so that the
// numbers live in one data file and not in C++.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace dmascope::engine {

struct RecallTable {
  std::string title, note, source;
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;  // each as many cells as columns
};

// Errors name the file (`name`) and the row or key that is wrong.
RecallTable recall_table_from_json(std::string_view json_text, std::string_view name);
RecallTable load_recall_table(const std::filesystem::path& file);

}  // namespace dmascope::engine
