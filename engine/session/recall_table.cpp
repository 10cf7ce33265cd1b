#include "engine/session/recall_table.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/base/error.h"
#include "core/base/printable.h"
#include "core/base/regular_file.h"

namespace dmascope::engine {

namespace {

using nlohmann::json;

std::vector<std::string> string_list(const json& value, std::string_view name, std::string_view what) {
  if (!value.is_array()) fail("{}: {} must be an array of strings", name, what);
  std::vector<std::string> list;
  for (const json& cell : value) {
    if (!cell.is_string()) fail("{}: {} must hold strings only, found {}", name, what, cell.dump());
    list.push_back(cell.get<std::string>());
  }
  return list;
}

}  // namespace

RecallTable recall_table_from_json(std::string_view json_text, std::string_view name) {
  json document;
  try {
    document = json::parse(json_text);
  } catch (const json::exception& error) {
    fail("{}: not a JSON recall table: {}", name, error.what());
  }
  if (!document.is_object() || document.value("dmascope_recall_table", 0) != 1)
    fail("{}: not a dmascope recall table (expected \"dmascope_recall_table\": 1)", name);
  RecallTable table;
  for (auto [key, text] : {std::pair{"title", &table.title}, {"note", &table.note}, {"source", &table.source}}) {
    const auto found = document.find(key);
    if (found == document.end() || !found->is_string()) fail("{}: \"{}\" must be a string", name, key);
    *text = found->get<std::string>();
  }
  if (!document.contains("columns") || !document.contains("rows")) fail("{}: \"columns\" and \"rows\" are needed", name);
  table.columns = string_list(document["columns"], name, "\"columns\"");
  if (table.columns.empty()) fail("{}: \"columns\" is empty", name);
  if (!document["rows"].is_array()) fail("{}: \"rows\" must be an array of rows", name);
  for (std::size_t r = 0; r < document["rows"].size(); ++r) {
    const std::string what = "row " + std::to_string(r + 1);
    table.rows.push_back(string_list(document["rows"][r], name, what));
    if (table.rows.back().size() != table.columns.size())
      fail("{}: {} has {} cells, the table has {} columns", name, what, table.rows.back().size(),
           table.columns.size());
  }
  return table;
}

RecallTable load_recall_table(const std::filesystem::path& file) {
  constexpr std::uint64_t kMaxRecallTableBytes = 1ull << 20;  // a table of a few dozen short rows
  return recall_table_from_json(read_regular_file(file, "the recall table", kMaxRecallTableBytes),
                                printable(file.string()));
}

}  // namespace dmascope::engine
