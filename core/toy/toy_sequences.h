// Synthetic token sequences whose attention structure is known in advance, for teaching and for checking what a mask
// keeps: random (no structure), periodic (a repeated motif), induction/copy (a random block and then its copy), needle
// in a haystack (a short needle hidden in filler, asked for at the end) and multi-query associative recall (key/value
// pairs, then the keys again). Ids are drawn from [0, vocab_size); every generator is deterministic for a seed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dmascope {

enum class ToySequenceKind { Random, Periodic, Induction, Needle, AssociativeRecall };
inline constexpr ToySequenceKind kToySequenceKinds[] = {ToySequenceKind::Random, ToySequenceKind::Periodic,
                                                        ToySequenceKind::Induction, ToySequenceKind::Needle,
                                                        ToySequenceKind::AssociativeRecall};

std::string_view toy_sequence_name(ToySequenceKind kind);             // "random", "periodic", "induction", ...
ToySequenceKind toy_sequence_from_name(std::string_view name);        // throws Error for an unknown name
std::string_view toy_sequence_description(ToySequenceKind kind);      // one line for the UI

struct ToySequence {
  std::vector<std::int32_t> ids;
  // Where the structure sits, for labels and tests. Periodic: period; induction: copy_start (the copy begins there
  // and repeats ids[0, copy_start)); needle: needle_start/needle_length and the query at the end; recall: pairs.
  std::int64_t period = 0;
  std::int64_t copy_start = 0;
  std::int64_t needle_start = 0, needle_length = 0;
  std::int64_t recall_pairs = 0;  // pairs (key, value) occupy [0, 2·pairs); queries repeat the keys after them
};

// length ≥ 1 and vocab_size ≥ 8 (the generators reserve a few ids for filler and markers), else Error.
ToySequence make_toy_sequence(ToySequenceKind kind, std::int64_t length, std::int64_t vocab_size, std::uint64_t seed);

}  // namespace dmascope
