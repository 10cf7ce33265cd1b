// recognize_toy_example: the answers of a task-format sequence from its ids alone (formats: core/toy/toy_tasks.h).
#include <algorithm>
#include <unordered_map>

#include "core/toy/toy_tasks.h"

namespace dmascope {

namespace {

using namespace toy_vocab;

bool is_key(std::int32_t id) { return id >= kFirstKey && id < kFirstValue; }
bool is_value(std::int32_t id) { return id >= kFirstValue && id < kFirstFiller; }
bool is_special(std::int32_t id) { return id >= 0 && id < kSpecials; }

void add_answer(ToyExample& example, std::int64_t position, std::int64_t source) {
  example.answer_positions.push_back(position);
  example.sources.push_back(source);
  example.answers.push_back(example.ids[static_cast<std::size_t>(source)]);
}

// k v pairs, then each key again (followed by its value): a repeated key asks for the value stored with it.
bool recognize_mqar(ToyExample& e) {
  const auto L = static_cast<std::int64_t>(e.ids.size());
  std::unordered_map<std::int32_t, std::int64_t> value_of_key;  // key id → position of its value
  for (std::int64_t p = 2; p < L; ++p) {
    const std::int32_t id = e.ids[static_cast<std::size_t>(p)];
    if (is_special(id)) return false;
    if (!is_key(id)) continue;
    if (const auto stored = value_of_key.find(id); stored != value_of_key.end()) {
      add_answer(e, p, stored->second);
    } else {
      if (p + 1 >= L || !is_value(e.ids[static_cast<std::size_t>(p + 1)])) return false;  // a pair lacks its value
      value_of_key.emplace(id, p + 1);
    }
  }
  return true;
}

// Filler with k v pairs hidden in it, then "<ask> k (v)": the asked key's stored value.
bool recognize_needle(ToyExample& e) {
  const auto L = static_cast<std::int64_t>(e.ids.size());
  const auto ask = std::find(e.ids.begin() + 2, e.ids.end(), kAsk);
  const std::int64_t a = ask - e.ids.begin();
  if (ask == e.ids.end() || a + 1 >= L || !is_key(e.ids[static_cast<std::size_t>(a + 1)])) return false;
  std::int64_t source = -1;
  for (std::int64_t p = 2; p < a; ++p) {
    const std::int32_t id = e.ids[static_cast<std::size_t>(p)];
    if (is_special(id)) return false;
    if (id == e.ids[static_cast<std::size_t>(a + 1)] && p + 1 < a && is_value(e.ids[static_cast<std::size_t>(p + 1)]))
      source = p + 1;  // the latest binding of the key wins
  }
  for (std::int64_t p = a + 2; p < L; ++p)
    if (is_special(e.ids[static_cast<std::size_t>(p)])) return false;
  if (source < 0) return false;
  add_answer(e, a + 1, source);
  return true;
}

// <sep> s1..sn filler <sep> s1..sn: from the second <sep> on, each row must produce the segment's next token.
bool recognize_copy(ToyExample& e) {
  const auto L = static_cast<std::int64_t>(e.ids.size());
  std::vector<std::int64_t> seps;
  for (std::int64_t p = 2; p < L; ++p) {
    const std::int32_t id = e.ids[static_cast<std::size_t>(p)];
    if (id == kSep) seps.push_back(p);
    else if (is_special(id)) return false;
  }
  if (seps.size() != 2) return false;
  const std::int64_t first = seps[0] + 1;
  std::int64_t n = 0;
  while (first + n < seps[1] && (is_key(e.ids[static_cast<std::size_t>(first + n)]) ||
                                 is_value(e.ids[static_cast<std::size_t>(first + n)])))
    ++n;
  if (n == 0) return false;
  for (std::int64_t t = 0; t < n && seps[1] + t < L; ++t) add_answer(e, seps[1] + t, first + t);
  return true;
}

}  // namespace

std::optional<ToyExample> recognize_toy_example(std::span<const std::int32_t> ids) {
  if (ids.size() < 4 || ids[0] != kBos) return std::nullopt;
  for (const std::int32_t id : ids)
    if (id < 0 || id >= kSize) return std::nullopt;
  ToyExample example;
  example.ids.assign(ids.begin(), ids.end());
  bool ok = false;
  switch (ids[1]) {
    case kMqar: example.task = ToyTask::Mqar, ok = recognize_mqar(example); break;
    case kNeedle: example.task = ToyTask::Needle, ok = recognize_needle(example); break;
    case kCopy: example.task = ToyTask::Copy, ok = recognize_copy(example); break;
    default: return std::nullopt;
  }
  if (!ok || example.answer_positions.empty()) return std::nullopt;
  return example;
}

}  // namespace dmascope
