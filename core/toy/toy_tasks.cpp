#include "core/toy/toy_tasks.h"

#include <algorithm>
#include <numeric>

#include "core/mask/dma_mask.h"
#include "core/base/error.h"

namespace dmascope {

namespace {

using namespace toy_vocab;

constexpr std::string_view kSpecialNames[kSpecials] = {"<bos>",    "<eos>",  "<pad>", "<unk>", "<mqar>",
                                                        "<needle>", "<copy>", "<sep>", "<ask>"};

// splitmix64, started at mix(mix(seed) ^ index) so that every (seed, index) is its own stream; below(n) = next % n.
// The Python generator is the same arithmetic on unbounded ints masked to 64 bits.
class SplitMix64 {
 public:
  SplitMix64(std::uint64_t seed, std::uint64_t index) : state_(mix(mix(seed) ^ index)) {}

  std::uint64_t next() {
    state_ += kGolden;
    return finalize(state_);
  }
  std::int64_t below(std::int64_t n) { return static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(n)); }
  std::int64_t uniform(std::int64_t lo, std::int64_t hi) { return lo + below(hi - lo + 1); }  // inclusive

 private:
  static constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ull;
  static std::uint64_t finalize(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  static std::uint64_t mix(std::uint64_t x) { return finalize(x + kGolden); }

  std::uint64_t state_;
};

// k distinct numbers of 0..n-1 in random order: the first k steps of a Fisher–Yates shuffle of 0..n-1.
std::vector<std::int64_t> sample_distinct(SplitMix64& rng, std::int64_t n, std::int64_t k) {
  std::vector<std::int64_t> pool(static_cast<std::size_t>(n));
  std::iota(pool.begin(), pool.end(), std::int64_t{0});
  for (std::int64_t i = 0; i < k; ++i) std::swap(pool[i], pool[i + rng.below(n - i)]);
  pool.resize(static_cast<std::size_t>(k));
  return pool;
}

// Which of items + fillers consecutive units are items (sorted unit indices).
std::vector<std::int64_t> arrange(SplitMix64& rng, std::int64_t items, std::int64_t fillers) {
  auto units = sample_distinct(rng, items + fillers, items);
  std::sort(units.begin(), units.end());
  return units;
}

constexpr std::int32_t kFill = -1;  // placeholder: filler tokens are drawn last, in position order

void fill(SplitMix64& rng, std::vector<std::int32_t>& ids) {
  for (auto& id : ids)
    if (id == kFill) id = kFirstFiller + static_cast<std::int32_t>(rng.below(kFillers));
}

std::int64_t position_of_next(const std::vector<std::int32_t>& ids) { return static_cast<std::int64_t>(ids.size()); }

void check_range(std::string_view what, std::int64_t lo, std::int64_t hi, std::int64_t at_least, std::int64_t at_most) {
  if (lo < at_least || hi < lo || hi > at_most)
    fail("toy task settings: {} range [{}, {}] is not within [{}, {}] with min <= max", what, lo, hi, at_least,
         at_most);
}

void generate_mqar(SplitMix64& rng, const ToyTaskSettings& s, ToyExample& e) {
  check_range("mqar_pairs", s.mqar_pairs_min, s.mqar_pairs_max, 1, kKeys);
  const std::int64_t L = s.length;
  const std::int64_t n = rng.uniform(s.mqar_pairs_min, s.mqar_pairs_max);
  const std::int64_t free = L - 2 - 4 * n;  // filler tokens in the whole sequence
  if (free < 0) fail("toy task mqar: {} pairs (keys, values and their queries) do not fit in {} tokens", n, L);
  const std::int64_t prefix = rng.below(std::min(free, L / 4) + 1);
  const auto keys = sample_distinct(rng, kKeys, n);
  std::vector<std::int64_t> values(static_cast<std::size_t>(n));
  for (auto& v : values) v = rng.below(kValues);
  e.ids = {kBos, kMqar};
  e.ids.resize(static_cast<std::size_t>(2 + prefix), kFill);
  std::vector<std::int64_t> value_position;
  for (std::int64_t i = 0; i < n; ++i) {
    e.ids.push_back(kFirstKey + static_cast<std::int32_t>(keys[i]));
    e.ids.push_back(kFirstValue + static_cast<std::int32_t>(values[i]));
    value_position.push_back(position_of_next(e.ids) - 1);
  }
  const auto order = sample_distinct(rng, n, n);  // the pair each query asks, in sequence order
  const std::int64_t rest = free - prefix;
  const auto query_units = arrange(rng, n, rest);
  std::size_t q = 0;
  for (std::int64_t unit = 0; unit < n + rest; ++unit) {
    if (q < query_units.size() && unit == query_units[q]) {
      const auto pair = static_cast<std::size_t>(order[q]);
      e.answer_positions.push_back(position_of_next(e.ids));
      e.answers.push_back(kFirstValue + static_cast<std::int32_t>(values[pair]));
      e.sources.push_back(value_position[pair]);
      e.ids.push_back(kFirstKey + static_cast<std::int32_t>(keys[pair]));
      e.ids.push_back(kFirstValue + static_cast<std::int32_t>(values[pair]));
      ++q;
    } else {
      e.ids.push_back(kFill);
    }
  }
  fill(rng, e.ids);
}

void generate_needle(SplitMix64& rng, const ToyTaskSettings& s, ToyExample& e) {
  check_range("needle_pairs", s.needle_pairs_min, s.needle_pairs_max, 1, kKeys);
  const std::int64_t L = s.length;
  const std::int64_t m = rng.uniform(s.needle_pairs_min, s.needle_pairs_max);
  const std::int64_t hay = L - 5;  // between <needle> and the closing "<ask> k v"
  if (hay < 2 * m) fail("toy task needle: {} pairs do not fit in {} tokens", m, L);
  const auto keys = sample_distinct(rng, kKeys, m);
  std::vector<std::int64_t> values(static_cast<std::size_t>(m));
  for (auto& v : values) v = rng.below(kValues);
  const auto pair_units = arrange(rng, m, hay - 2 * m);
  e.ids = {kBos, kNeedle};
  std::vector<std::int64_t> value_position;
  std::size_t q = 0;
  for (std::int64_t unit = 0; unit < hay - m; ++unit) {
    if (q < pair_units.size() && unit == pair_units[q]) {
      e.ids.push_back(kFirstKey + static_cast<std::int32_t>(keys[q]));
      e.ids.push_back(kFirstValue + static_cast<std::int32_t>(values[q]));
      value_position.push_back(position_of_next(e.ids) - 1);
      ++q;
    } else {
      e.ids.push_back(kFill);
    }
  }
  const auto asked = static_cast<std::size_t>(rng.below(m));
  const std::int32_t answer = kFirstValue + static_cast<std::int32_t>(values[asked]);
  e.ids.push_back(kAsk);
  e.ids.push_back(kFirstKey + static_cast<std::int32_t>(keys[asked]));
  e.ids.push_back(answer);
  e.answer_positions = {L - 2};
  e.answers = {answer};
  e.sources = {value_position[asked]};
  fill(rng, e.ids);
}

void generate_copy(SplitMix64& rng, const ToyTaskSettings& s, ToyExample& e) {
  check_range("copy_length", s.copy_length_min, s.copy_length_max, 1, kKeys + kValues);
  const std::int64_t L = s.length;
  const std::int64_t n = rng.uniform(s.copy_length_min, s.copy_length_max);
  const std::int64_t free = L - 4 - 2 * n;
  if (free < 0) fail("toy task copy: a segment of {} tokens does not fit twice in {} tokens", n, L);
  std::vector<std::int32_t> segment;
  for (const auto x : sample_distinct(rng, kKeys + kValues, n))
    segment.push_back(kFirstKey + static_cast<std::int32_t>(x));
  const std::int64_t prefix = rng.below(free / 4 + 1);
  const std::int64_t gap = rng.below(free - prefix + 1);
  e.ids = {kBos, kCopy};
  e.ids.resize(static_cast<std::size_t>(2 + prefix), kFill);
  e.ids.push_back(kSep);
  const std::int64_t first = position_of_next(e.ids);
  e.ids.insert(e.ids.end(), segment.begin(), segment.end());
  e.ids.resize(e.ids.size() + static_cast<std::size_t>(gap), kFill);
  e.answer_positions.push_back(position_of_next(e.ids));
  e.answers.push_back(segment[0]);
  e.sources.push_back(first);
  e.ids.push_back(kSep);
  for (std::int64_t t = 0; t < n; ++t) {
    if (t + 1 < n) {
      e.answer_positions.push_back(position_of_next(e.ids));
      e.answers.push_back(segment[static_cast<std::size_t>(t + 1)]);
      e.sources.push_back(first + t + 1);
    }
    e.ids.push_back(segment[static_cast<std::size_t>(t)]);
  }
  e.ids.resize(e.ids.size() + static_cast<std::size_t>(free - prefix - gap), kFill);
  fill(rng, e.ids);
}

}  // namespace

std::string toy_token_name(std::int32_t id) {
  if (id < 0 || id >= kSize) fail("token id {} is outside the toy vocabulary (0..{})", id, kSize - 1);
  if (id < kFirstKey) return std::string(kSpecialNames[id]);
  if (id < kFirstValue) return fmt::format("k{}", id - kFirstKey);
  if (id < kFirstFiller) return fmt::format("v{}", id - kFirstValue);
  return fmt::format("f{}", id - kFirstFiller);
}

std::string toy_text(std::span<const std::int32_t> ids) {
  std::string text;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) text += ' ';
    text += toy_token_name(ids[i]);
  }
  return text;
}

std::string_view toy_task_name(ToyTask task) {
  switch (task) {
    case ToyTask::Mqar: return "mqar";
    case ToyTask::Needle: return "needle";
    case ToyTask::Copy: return "copy";
  }
  return "?";
}

ToyTask toy_task_from_name(std::string_view name) {
  for (const ToyTask task : {ToyTask::Mqar, ToyTask::Needle, ToyTask::Copy})
    if (toy_task_name(task) == name) return task;
  fail("unknown toy task \"{}\" (expected mqar, needle or copy)", name);
}

ToyExample make_toy_example(ToyTask task, const ToyTaskSettings& settings, std::uint64_t seed, std::uint64_t index) {
  if (settings.length < 8) fail("toy task settings: length {} is too short (at least 8 tokens)", settings.length);
  SplitMix64 rng(seed, index);
  ToyExample example;
  example.task = task;
  switch (task) {
    case ToyTask::Mqar: generate_mqar(rng, settings, example); break;
    case ToyTask::Needle: generate_needle(rng, settings, example); break;
    case ToyTask::Copy: generate_copy(rng, settings, example); break;
  }
  return example;
}

ToyAnswerScore score_toy_answers(const ToyExample& example, const Tensor& logits) {
  const auto L = static_cast<std::int64_t>(example.ids.size());
  if (logits.rank() != 3 || logits.dim(0) != 1 || logits.dim(1) != L)
    fail("score_toy_answers: logits have shape {}, expected [1, {}, vocab]", shape_str(logits.shape()), L);
  const std::int64_t vocab = logits.dim(2);
  if (vocab < 2) fail("score_toy_answers: a vocabulary of {} cannot be scored", vocab);
  const float* all = logits.data<float>();
  ToyAnswerScore score;
  for (std::size_t a = 0; a < example.answer_positions.size(); ++a) {
    const std::int64_t p = example.answer_positions[a];
    if (p < 0 || p >= L) fail("score_toy_answers: answer position {} is outside the {} tokens", p, L);
    const float* row = all + p * vocab;
    std::int64_t best = 0;
    for (std::int64_t v = 1; v < vocab; ++v)
      if (row[v] > row[best]) best = v;
    float second = best == 0 ? row[1] : row[0];
    for (std::int64_t v = 0; v < vocab; ++v)
      if (v != best) second = std::max(second, row[v]);
    score.predicted.push_back(static_cast<std::int32_t>(best));
    score.margin.push_back(row[best] - second);
    score.correct += best == example.answers[a];
  }
  return score;
}

std::vector<std::vector<bool>> toy_sources_kept(const ForwardResult& result, const ToyExample& example) {
  std::vector<std::vector<bool>> kept;
  for (std::size_t layer = 0; layer < result.layers.size(); ++layer) {
    const Tensor& death = result.layers[layer].death;
    if (!death.defined() || death.rank() != 3)
      fail("toy_sources_kept: layer {} has no death indices (run the forward with capture on)", layer);
    const std::int64_t heads = death.dim(1), L = death.dim(2);
    const std::int32_t* all = death.data<std::int32_t>();
    std::vector<bool> row;
    for (std::size_t a = 0; a < example.answer_positions.size(); ++a) {
      const std::int64_t p = example.answer_positions[a], source = example.sources[a];
      if (p >= L || source > p) fail("toy_sources_kept: answer at {} (source {}) does not fit {} rows", p, source, L);
      bool any = false;
      for (std::int64_t h = 0; h < heads && !any; ++h)
        any = dma_keeps(std::span<const std::int32_t>(all + h * L, static_cast<std::size_t>(L)), p, source);
      row.push_back(any);
    }
    kept.push_back(std::move(row));
  }
  return kept;
}

ToyAccuracy toy_accuracy(const DogeModel& model, std::span<const ToyExample> examples, ForwardOptions options) {
  options.capture = false;
  options.capture_probs = false;
  ToyAccuracy accuracy;
  for (const ToyExample& example : examples) {
    const ForwardResult result = doge_forward(model, example.ids, options);
    ToyAnswerScore score = score_toy_answers(example, result.logits);
    accuracy.correct += score.correct;
    accuracy.total += score.total();
    accuracy.per_example.push_back(std::move(score));
  }
  return accuracy;
}

}  // namespace dmascope
