#include "core/attention/kernel_choice.h"

#include <fmt/format.h>

#include <array>
#include <functional>
#include <vector>

#include "core/base/error.h"

namespace dmascope {

namespace {

// One name=value item: its valid values, in the order the error message lists them, and how each maps onto the
// choice. Parsing and printing both walk this table, so the two cannot disagree.
struct ChoiceItem {
  std::string_view name;
  std::vector<std::string_view> values;                            // values[0] is the default
  std::function<void(KernelChoice&, std::size_t)> set;             // value index → field
  std::function<std::size_t(const KernelChoice&)> get;             // field → value index
};

const std::vector<ChoiceItem>& choice_items() {
  static const std::vector<ChoiceItem> items = {
      {"forward", {"auto", "wgmma", "mma"},
       [](KernelChoice& c, std::size_t i) { c.forward = static_cast<ForwardKernelChoice>(i); },
       [](const KernelChoice& c) { return static_cast<std::size_t>(c.forward); }},
      {"keys", {"async", "sync"}, [](KernelChoice& c, std::size_t i) { c.keys = static_cast<KeyLoadChoice>(i); },
       [](const KernelChoice& c) { return static_cast<std::size_t>(c.keys); }},
      {"heads-per-cta", {"auto", "1", "2", "4"},
       [](KernelChoice& c, std::size_t i) { c.heads_per_cta = std::array{0, 1, 2, 4}[i]; },
       [](const KernelChoice& c) -> std::size_t { return c.heads_per_cta == 4 ? 3 : c.heads_per_cta == 2 ? 2 : c.heads_per_cta == 1 ? 1 : 0; }},
      {"fused-lists", {"on", "off"}, [](KernelChoice& c, std::size_t i) { c.fused_lists = i == 0; },
       [](const KernelChoice& c) -> std::size_t { return c.fused_lists ? 0 : 1; }},
      {"pdl", {"on", "off"}, [](KernelChoice& c, std::size_t i) { c.pdl = i == 0; },
       [](const KernelChoice& c) -> std::size_t { return c.pdl ? 0 : 1; }},
      {"mask-build", {"auto", "sort"},
       [](KernelChoice& c, std::size_t i) { c.mask_build = static_cast<MaskBuildChoice>(i); },
       [](const KernelChoice& c) { return static_cast<std::size_t>(c.mask_build); }},
      {"gather-lists", {"auto", "scan"},
       [](KernelChoice& c, std::size_t i) { c.gather_lists = static_cast<GatherListChoice>(i); },
       [](const KernelChoice& c) { return static_cast<std::size_t>(c.gather_lists); }},
      {"scores", {"fp32", "input"},
       [](KernelChoice& c, std::size_t i) { c.scores = static_cast<ScoreRounding>(i); },
       [](const KernelChoice& c) { return static_cast<std::size_t>(c.scores); }},
  };
  return items;
}

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::string item_names() {
  std::vector<std::string_view> names;
  for (const auto& item : choice_items()) names.push_back(item.name);
  return fmt::format("{}", fmt::join(names, ", "));
}

}  // namespace

KernelChoice parse_kernel_choice(std::string_view spec) {
  KernelChoice choice;
  spec = trimmed(spec);
  if (spec.empty() || spec == "default") return choice;
  std::vector<std::string_view> seen;
  while (true) {
    const std::size_t comma = spec.find(',');
    const std::string_view text = trimmed(spec.substr(0, comma));
    const std::size_t equals = text.find('=');
    if (text.empty() || equals == std::string_view::npos)
      fail("kernel choice: item '{}' is not name=value (names: {})", text, item_names());
    const std::string_view name = trimmed(text.substr(0, equals)), value = trimmed(text.substr(equals + 1));
    const ChoiceItem* item = nullptr;
    for (const auto& candidate : choice_items())
      if (candidate.name == name) item = &candidate;
    if (item == nullptr) fail("kernel choice: unknown item '{}' (names: {})", name, item_names());
    for (std::string_view earlier : seen)
      if (earlier == name) fail("kernel choice: item '{}' given twice", name);
    seen.push_back(name);
    std::size_t index = 0;
    while (index < item->values.size() && item->values[index] != value) ++index;
    if (index == item->values.size())
      fail("kernel choice: '{}={}' is not a valid value (valid: {})", name, value, fmt::join(item->values, ", "));
    item->set(choice, index);
    if (comma == std::string_view::npos) break;
    spec.remove_prefix(comma + 1);
  }
  return choice;
}

std::string kernel_choice_name(const KernelChoice& choice) {
  std::vector<std::string> parts;
  for (const auto& item : choice_items())
    if (const std::size_t index = item.get(choice); index != 0) parts.push_back(fmt::format("{}={}", item.name, item.values[index]));
  return parts.empty() ? std::string("default") : fmt::format("{}", fmt::join(parts, ","));
}

}  // namespace dmascope
