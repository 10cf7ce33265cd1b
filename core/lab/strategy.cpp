#include "core/lab/strategy.h"

#include <algorithm>

#include "core/base/error.h"

namespace dmascope {

std::string_view strategy_name(Strategy strategy) {
  switch (strategy) {
    case Strategy::Dma: return "dma";
    case Strategy::Shared: return "shared";
    case Strategy::Swa: return "swa";
    case Strategy::Sinks: return "sinks";
    case Strategy::Oracle: return "oracle";
    case Strategy::Nsa: return "nsa";
    case Strategy::Dam: return "dam";
  }
  return "?";
}

std::string all_strategy_names() {
  std::string names;
  for (Strategy strategy : kAllStrategies) {
    if (!names.empty()) names += ',';
    names += strategy_name(strategy);
  }
  return names;
}

Strategy strategy_from_name(std::string_view name) {
  for (Strategy strategy : kAllStrategies)
    if (strategy_name(strategy) == name) return strategy;
  fail("unknown strategy '{}' (expected one of {})", name, all_strategy_names());
}

std::vector<Strategy> parse_strategy_list(std::string_view list) {
  std::vector<Strategy> strategies;
  std::size_t begin = 0;
  while (begin <= list.size()) {
    const std::size_t comma = std::min(list.find(',', begin), list.size());
    const std::string_view name = list.substr(begin, comma - begin);
    if (name.empty()) fail("empty strategy name in '{}' (expected names from {}, joined by commas)", list,
                           all_strategy_names());
    const Strategy strategy = strategy_from_name(name);
    if (std::find(strategies.begin(), strategies.end(), strategy) != strategies.end())
      fail("strategy '{}' is listed twice in '{}'", name, list);
    strategies.push_back(strategy);
    begin = comma + 1;
  }
  return strategies;
}

bool strategy_reads_scores(Strategy strategy) { return strategy == Strategy::Oracle || strategy == Strategy::Nsa; }

}  // namespace dmascope
