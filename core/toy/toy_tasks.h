// The recall tasks the bundled toy Doge models were trained on (assets/models/doge-toy-*), generated exactly as
// tools/train_toy_doge.py generates them — the same splitmix64 stream per (seed, index), the same draws in the same
// order — so that a sequence made here is one the model could have seen in training, and a held-out sequence the
// script scored is rebuilt here id for id. Plus the scoring: greedy answers at the answer positions and whether the
// DMA mask kept the token each answer has to copy.
//
// Formats (one token per word; L = settings.length, every sequence exactly L tokens):
//   mqar    <bos> <mqar> f.. k v k v .. (N pairs) then the N keys once each, in random order, each followed by its
//           value, scattered among filler. Answers: the value after each queried key.
//   needle  <bos> <needle> filler with 1..4 "k v" pairs hidden in it, then "<ask> k v". Answer: the asked key's value.
//   copy    <bos> <copy> f.. <sep> s1..sn f.. <sep> s1..sn f.. with n distinct key/value tokens. Answers: from the
//           second <sep> on, each next token of the repeat.
// An answer at position p is scored on the logits of row p, which must put their argmax on ids[p + 1].
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/model/doge_forward.h"

namespace dmascope {

// The toy vocabulary: ids of the bundled models' tokenizer.json, whose tokens are these names ("k12", "v7", "f3").
namespace toy_vocab {
inline constexpr std::int32_t kBos = 0, kEos = 1, kPad = 2, kUnk = 3, kMqar = 4, kNeedle = 5, kCopy = 6, kSep = 7,
                              kAsk = 8;
inline constexpr std::int32_t kSpecials = 9;
inline constexpr std::int32_t kKeys = 128, kValues = 128, kFillers = 64;
inline constexpr std::int32_t kFirstKey = kSpecials;             // k0 .. k127
inline constexpr std::int32_t kFirstValue = kFirstKey + kKeys;   // v0 .. v127
inline constexpr std::int32_t kFirstFiller = kFirstValue + kValues;  // f0 .. f63
inline constexpr std::int32_t kSize = kFirstFiller + kFillers;   // 329
}  // namespace toy_vocab

std::string toy_token_name(std::int32_t id);                // "<bos>", "k12", "v7", "f3"; Error outside the vocabulary
std::string toy_text(std::span<const std::int32_t> ids);    // the names joined by single spaces

enum class ToyTask { Mqar, Needle, Copy };
std::string_view toy_task_name(ToyTask task);               // "mqar", "needle", "copy"
ToyTask toy_task_from_name(std::string_view name);          // Error for any other name

// Ranges are inclusive; each example draws its own count from them. Defaults are the training distribution.
struct ToyTaskSettings {
  std::int64_t length = 512;
  std::int64_t mqar_pairs_min = 4, mqar_pairs_max = 48;
  std::int64_t needle_pairs_min = 1, needle_pairs_max = 4;
  std::int64_t copy_length_min = 8, copy_length_max = 32;
};

struct ToyExample {
  ToyTask task = ToyTask::Mqar;
  std::vector<std::int32_t> ids;               // settings.length tokens: <bos>, the task token, ...
  std::vector<std::int64_t> answer_positions;  // rows whose logits are scored, ascending
  std::vector<std::int32_t> answers;           // ids[p + 1] for each answer position p
  std::vector<std::int64_t> sources;           // the earlier position holding the same token: what attention must find
};

// Deterministic in (task, settings, seed, index). Errors name the setting that cannot fit in the length.
ToyExample make_toy_example(ToyTask task, const ToyTaskSettings& settings, std::uint64_t seed, std::uint64_t index);

// The answers a sequence in one of the task formats asks for, read off its ids alone (core/toy/toy_task_recognize.cpp),
// so that a typed or loaded sequence (the bundled sample.txt, a text box) is scored like a generated one: for any
// make_toy_example(...).ids it returns that example. The expected answer is the token bound earlier in the sequence
// (the value stored with the key, the segment's next token), i.e. ids[source]. nullopt when the ids do not start with
// <bos> and a task token, hold a token outside the toy vocabulary, or do not follow the task's format.
std::optional<ToyExample> recognize_toy_example(std::span<const std::int32_t> ids);

struct ToyAnswerScore {
  std::vector<std::int32_t> predicted;  // argmax of the logits at each answer position (the lowest id on a tie)
  std::vector<float> margin;            // top-1 minus top-2 logit: how close each answer was to flipping
  std::int64_t correct = 0;
  std::int64_t total() const { return static_cast<std::int64_t>(predicted.size()); }
};

// logits: [1, L, V] float32 for the example's ids.
ToyAnswerScore score_toy_answers(const ToyExample& example, const Tensor& logits);

// Per layer, per answer: did some bias head's DMA mask keep the answer's source token on the answer's row?
// Needs a forward run with capture on (it reads each layer's death indices).
std::vector<std::vector<bool>> toy_sources_kept(const ForwardResult& result, const ToyExample& example);

struct ToyAccuracy {
  std::int64_t correct = 0;
  std::int64_t total = 0;
  std::vector<ToyAnswerScore> per_example;
  double fraction() const { return total > 0 ? static_cast<double>(correct) / static_cast<double>(total) : 0.0; }
};

// Runs doge_forward on each example (options as given; capture is switched off, only logits are needed) and scores
// the answers.
ToyAccuracy toy_accuracy(const DogeModel& model, std::span<const ToyExample> examples, ForwardOptions options);

}  // namespace dmascope
