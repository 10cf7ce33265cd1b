// The toy sequence generators: lengths, id ranges, determinism and the structure each one promises.
#include <gtest/gtest.h>

#include <set>

#include "core/base/error.h"
#include "core/toy/toy_sequences.h"

namespace dmascope {
namespace {

TEST(ToySequences, EveryKindHasTheRequestedLengthIdsInTheVocabularyAndIsDeterministicPerSeed) {
  for (ToySequenceKind kind : kToySequenceKinds)
    for (std::int64_t length : {1, 2, 3, 4, 5, 6, 7, 31, 128, 1000}) {
      const auto a = make_toy_sequence(kind, length, 64, 5);
      const auto b = make_toy_sequence(kind, length, 64, 5);
      ASSERT_EQ(static_cast<std::int64_t>(a.ids.size()), length) << toy_sequence_name(kind);
      EXPECT_EQ(a.ids, b.ids);
      for (auto id : a.ids) ASSERT_TRUE(id >= 0 && id < 64) << toy_sequence_name(kind) << " id " << id;
      EXPECT_EQ(toy_sequence_from_name(toy_sequence_name(kind)), kind);
    }
  EXPECT_NE(make_toy_sequence(ToySequenceKind::Random, 100, 512, 1).ids,
            make_toy_sequence(ToySequenceKind::Random, 100, 512, 2).ids);
}

TEST(ToySequences, PeriodicRepeatsItsMotif) {
  const auto s = make_toy_sequence(ToySequenceKind::Periodic, 100, 512, 0);
  ASSERT_EQ(s.period, 16);
  for (std::size_t p = 16; p < s.ids.size(); ++p) EXPECT_EQ(s.ids[p], s.ids[p - 16]);
}

TEST(ToySequences, InductionSecondHalfCopiesTheFirst) {
  const auto s = make_toy_sequence(ToySequenceKind::Induction, 101, 512, 0);
  ASSERT_EQ(s.copy_start, 51);
  for (std::int64_t p = s.copy_start; p < 101; ++p) EXPECT_EQ(s.ids[p], s.ids[p - s.copy_start]);
}

TEST(ToySequences, NeedleAppearsInTheHaystackAndAgainAtTheEnd) {
  for (std::int64_t length : {4, 6, 9, 300}) {
    const auto s = make_toy_sequence(ToySequenceKind::Needle, length, 512, 3);
    ASSERT_GT(s.needle_length, 0) << length;
    const std::int64_t tail = length - s.needle_length;
    EXPECT_LT(s.needle_start + s.needle_length, tail) << "the two copies must not overlap at length " << length;
    for (std::int64_t n = 0; n < s.needle_length; ++n) EXPECT_EQ(s.ids[s.needle_start + n], s.ids[tail + n]);
    EXPECT_EQ(s.ids[s.needle_start - 1], s.ids[tail - 1]);  // the marker before each copy
  }
}

TEST(ToySequences, RecallQueriesRepeatAKeyFollowedByItsValue) {
  const auto s = make_toy_sequence(ToySequenceKind::AssociativeRecall, 90, 512, 4);
  ASSERT_EQ(s.recall_pairs, 30);
  for (std::int64_t p = 2 * s.recall_pairs; p + 1 < 90; p += 2) {
    bool found = false;
    for (std::int64_t n = 0; n < s.recall_pairs && !found; ++n)
      found = s.ids[2 * n] == s.ids[p] && s.ids[2 * n + 1] == s.ids[p + 1];
    EXPECT_TRUE(found) << "query at " << p << " is not a stored (key, value) pair";
  }
}

TEST(ToySequences, BadArgumentsAreRefusedWithTheReason) {
  EXPECT_THROW(make_toy_sequence(ToySequenceKind::Random, 0, 512, 0), Error);
  EXPECT_THROW(make_toy_sequence(ToySequenceKind::Random, 10, 4, 0), Error);
  EXPECT_THROW(toy_sequence_from_name("zebra"), Error);
}

}  // namespace
}  // namespace dmascope
