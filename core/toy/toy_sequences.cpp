#include "core/toy/toy_sequences.h"

#include <algorithm>
#include <random>

#include "core/base/error.h"

namespace dmascope {

namespace {

// Ids 0 and 1 are reserved: 0 is the filler of the haystack, 1 the marker before a needle or a recall query. Content
// tokens are drawn from [2, vocab).
constexpr std::int32_t kFillerId = 0;
constexpr std::int32_t kMarkerId = 1;

class ContentTokens {
 public:
  ContentTokens(std::int64_t vocab_size, std::uint64_t seed)
      : rng_(seed), pick_(2, static_cast<std::int32_t>(vocab_size - 1)) {}
  std::int32_t next() { return pick_(rng_); }
  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
  std::uniform_int_distribution<std::int32_t> pick_;
};

}  // namespace

std::string_view toy_sequence_name(ToySequenceKind kind) {
  switch (kind) {
    case ToySequenceKind::Random: return "random";
    case ToySequenceKind::Periodic: return "periodic";
    case ToySequenceKind::Induction: return "induction";
    case ToySequenceKind::Needle: return "needle";
    case ToySequenceKind::AssociativeRecall: return "recall";
  }
  return "?";
}

ToySequenceKind toy_sequence_from_name(std::string_view name) {
  for (ToySequenceKind kind : kToySequenceKinds)
    if (toy_sequence_name(kind) == name) return kind;
  fail("unknown toy sequence '{}' (expected random, periodic, induction, needle or recall)", name);
}

std::string_view toy_sequence_description(ToySequenceKind kind) {
  switch (kind) {
    case ToySequenceKind::Random: return "uniform random ids: no structure";
    case ToySequenceKind::Periodic: return "a random motif of 16 ids repeated";
    case ToySequenceKind::Induction: return "a random first half, then its exact copy";
    case ToySequenceKind::Needle: return "filler with a 4-id needle at 1/3, asked for again at the end";
    case ToySequenceKind::AssociativeRecall: return "key/value pairs, then the keys again as queries";
  }
  return "";
}

ToySequence make_toy_sequence(ToySequenceKind kind, std::int64_t length, std::int64_t vocab_size, std::uint64_t seed) {
  if (length < 1) fail("toy sequence: length must be at least 1, got {}", length);
  if (vocab_size < 8) fail("toy sequence: the vocabulary must have at least 8 ids, got {}", vocab_size);
  ToySequence sequence;
  auto& ids = sequence.ids;
  ids.resize(static_cast<std::size_t>(length));
  ContentTokens tokens(vocab_size, seed);
  switch (kind) {
    case ToySequenceKind::Random:
      for (auto& id : ids) id = tokens.next();
      break;
    case ToySequenceKind::Periodic: {
      sequence.period = std::min<std::int64_t>(16, length);
      std::vector<std::int32_t> motif(static_cast<std::size_t>(sequence.period));
      for (auto& id : motif) id = tokens.next();
      for (std::int64_t p = 0; p < length; ++p) ids[p] = motif[p % sequence.period];
      break;
    }
    case ToySequenceKind::Induction: {
      sequence.copy_start = (length + 1) / 2;
      for (std::int64_t p = 0; p < sequence.copy_start; ++p) ids[p] = tokens.next();
      for (std::int64_t p = sequence.copy_start; p < length; ++p) ids[p] = ids[p - sequence.copy_start];
      break;
    }
    case ToySequenceKind::Needle: {
      std::fill(ids.begin(), ids.end(), kFillerId);
      // The first copy (marker + needle) must end before the last one's marker: 2·n + 1 ≤ length − start.
      sequence.needle_start = length / 3;
      sequence.needle_length = std::min<std::int64_t>(4, (length - 1 - sequence.needle_start) / 2);
      std::vector<std::int32_t> needle(static_cast<std::size_t>(sequence.needle_length));
      for (auto& id : needle) id = tokens.next();
      // The needle (after a marker) at 1/3, and the marker + needle again at the very end: the last rows should
      // look back at the first copy.
      if (sequence.needle_length > 0) {
        ids[sequence.needle_start - 1] = kMarkerId;
        std::copy(needle.begin(), needle.end(), ids.begin() + sequence.needle_start);
        const std::int64_t tail = length - sequence.needle_length;
        ids[tail - 1] = kMarkerId;
        std::copy(needle.begin(), needle.end(), ids.begin() + tail);
      }
      break;
    }
    case ToySequenceKind::AssociativeRecall: {
      // 2/3 of the length holds (key, value) pairs; the rest repeats keys drawn from them, each followed by its value.
      sequence.recall_pairs = std::max<std::int64_t>(1, length / 3);
      std::vector<std::int32_t> keys(static_cast<std::size_t>(sequence.recall_pairs));
      std::vector<std::int32_t> values(keys.size());
      for (std::size_t n = 0; n < keys.size(); ++n) {
        keys[n] = tokens.next();
        values[n] = tokens.next();
      }
      std::uniform_int_distribution<std::size_t> pick_pair(0, keys.size() - 1);
      for (std::int64_t p = 0; p < length; ++p) {
        if (p < 2 * sequence.recall_pairs) {
          ids[p] = p % 2 == 0 ? keys[p / 2] : values[p / 2];
        } else if ((p - 2 * sequence.recall_pairs) % 2 == 0) {
          const std::size_t n = pick_pair(tokens.rng());
          ids[p] = keys[n];
          if (p + 1 < length) ids[p + 1] = values[n];
        }
      }
      break;
    }
  }
  return sequence;
}

}  // namespace dmascope
