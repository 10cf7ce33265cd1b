// recognize_toy_example reads a task-format sequence's answers from its ids: it must return exactly what
// make_toy_example generated (task, answer positions, answers, sources) for every generated sequence, read the bundled
// sample.txt through the model's tokenizer, and turn down sequences of no task format.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "core/base/error.h"
#include "core/tokenizer/tokenizer.h"
#include "core/toy/toy_tasks.h"
#include "tests/test_paths.h"

namespace dmascope {
namespace {

using namespace toy_vocab;

TEST(ToyTaskRecognize, ReturnsWhatTheGeneratorMadeForEveryTaskLengthAndSeed) {
  int checked = 0;
  for (const ToyTask task : {ToyTask::Mqar, ToyTask::Needle, ToyTask::Copy})
    for (const std::int64_t length : {24, 64, 256, 512, 1000})
      for (std::uint64_t index = 0; index < 60; ++index) {
        ToyTaskSettings settings;
        settings.length = length;
        ToyExample made;
        try {
          made = make_toy_example(task, settings, 7 + length, index);
        } catch (const Error&) {
          continue;  // the drawn count does not fit this length
        }
        SCOPED_TRACE(::testing::Message() << toy_task_name(task) << " L=" << length << " index=" << index);
        const auto read = recognize_toy_example(made.ids);
        ASSERT_TRUE(read.has_value());
        EXPECT_EQ(read->task, made.task);
        EXPECT_EQ(read->ids, made.ids);
        EXPECT_EQ(read->answer_positions, made.answer_positions);
        EXPECT_EQ(read->answers, made.answers);
        EXPECT_EQ(read->sources, made.sources);
        ++checked;
      }
  EXPECT_GT(checked, 600);  // most (task, length) pairs fit: the loop really compared examples
}

TEST(ToyTaskRecognize, ReadsTheBundledSampleThroughItsTokenizer) {
  const auto model = testing::fixtures_dir().parent_path().parent_path().parent_path() / "assets" / "models" /
                     "doge-toy-mix";
  std::ifstream file(model / "sample.txt");
  ASSERT_TRUE(file) << model / "sample.txt";
  std::stringstream text;
  text << file.rdbuf();
  std::string sample = text.str();
  while (!sample.empty() && (sample.back() == '\n' || sample.back() == '\r')) sample.pop_back();
  const Tokenizer tokenizer = Tokenizer::load(model / "tokenizer.json");
  const auto read = recognize_toy_example(tokenizer.encode(sample, true));
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->task, ToyTask::Mqar);
  ASSERT_FALSE(read->answer_positions.empty());
  for (std::size_t a = 0; a < read->answer_positions.size(); ++a) {
    const auto p = static_cast<std::size_t>(read->answer_positions[a]);
    const auto source = static_cast<std::size_t>(read->sources[a]);
    EXPECT_EQ(read->ids[p], read->ids[source - 1]) << "the query repeats the key stored before the value";
    EXPECT_EQ(read->answers[a], read->ids[source]);
    if (p + 1 < read->ids.size()) EXPECT_EQ(read->ids[p + 1], read->answers[a]) << "the sample states its answers";
  }
}

TEST(ToyTaskRecognize, TurnsDownSequencesOfNoTaskFormat) {
  std::mt19937 rng(3);
  std::vector<std::int32_t> random(200);
  for (auto& id : random) id = static_cast<std::int32_t>(rng() % kSize);
  random[0] = kBos;
  random[1] = kFirstFiller;
  EXPECT_FALSE(recognize_toy_example(random).has_value()) << "no task token";

  ToyTaskSettings settings;
  settings.length = 128;
  const ToyExample mqar = make_toy_example(ToyTask::Mqar, settings, 1, 0);
  auto ids = mqar.ids;
  ids[0] = kFirstFiller;
  EXPECT_FALSE(recognize_toy_example(ids).has_value()) << "no <bos>";
  ids = mqar.ids;
  ids[40] = kSize;  // outside the toy vocabulary (another model's ids)
  EXPECT_FALSE(recognize_toy_example(ids).has_value());
  ids = mqar.ids;
  ids[60] = kSep;  // a special token inside an MQAR sequence
  EXPECT_FALSE(recognize_toy_example(ids).has_value());
  EXPECT_FALSE(recognize_toy_example(std::vector<std::int32_t>{kBos, kMqar, kFirstFiller, kFirstFiller}).has_value())
      << "nothing asked";

  const ToyExample copy = make_toy_example(ToyTask::Copy, settings, 1, 0);
  ids = copy.ids;
  ids[static_cast<std::size_t>(copy.answer_positions[0])] = kFirstFiller;  // the second <sep> removed
  EXPECT_FALSE(recognize_toy_example(ids).has_value());

  const ToyExample needle = make_toy_example(ToyTask::Needle, settings, 1, 0);
  ids = needle.ids;
  ids[static_cast<std::size_t>(needle.sources[0] - 1)] = kFirstFiller;  // the asked key's pair is gone
  EXPECT_FALSE(recognize_toy_example(ids).has_value());
}

TEST(ToyTaskRecognize, ATruncatedSequenceKeepsTheAnswersItStillHolds) {
  ToyTaskSettings settings;
  settings.length = 256;
  const ToyExample copy = make_toy_example(ToyTask::Copy, settings, 2, 5);
  const std::int64_t cut = copy.answer_positions[2] + 1;  // ends on the third answer row
  const auto read = recognize_toy_example(std::span(copy.ids).first(static_cast<std::size_t>(cut)));
  ASSERT_TRUE(read.has_value());
  ASSERT_EQ(read->answer_positions.size(), 3u);
  EXPECT_EQ(read->answers, std::vector<std::int32_t>(copy.answers.begin(), copy.answers.begin() + 3));
}

}  // namespace
}  // namespace dmascope
