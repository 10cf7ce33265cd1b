// The toy task generators against tools/train_toy_doge.py, which defines the format the bundled toy models were trained
// on, and the bundled models' CPU answers against transformers 5.17's: each bundled model folder holds
// eval_examples.json, held-out sequences the script scored on the GPU (eager attention, fp32) with their argmax at
// every answer position.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>

#include "core/base/error.h"
#include "core/tokenizer/tokenizer.h"
#include "core/toy/toy_tasks.h"
#include "tests/test_paths.h"

namespace dmascope {
namespace {

using namespace toy_vocab;

// transformers' fp32 logits (GPU) and ours differ by ~1e-5 (summation order; the golden forward test holds 1e-4 on
// every tensor). An answer whose top-1/top-2 margin is below this could flip either way, so it is not compared.
constexpr double kArgmaxMarginTolerance = 1e-3;

const char* const kBundledToyModels[] = {"doge-toy-mqar", "doge-toy-mix"};

std::filesystem::path assets_models_dir() {
  if (const char* dir = std::getenv("DMASCOPE_ASSETS_MODELS_DIR")) return dir;
  // fixtures_dir() is <source>/tests/fixtures/data
  return testing::fixtures_dir().parent_path().parent_path().parent_path() / "assets" / "models";
}

std::uint64_t fnv1a(const std::vector<std::int32_t>& ids) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (const std::int32_t id : ids)
    hash = (hash ^ static_cast<std::uint64_t>(static_cast<std::int64_t>(id))) * 0x100000001b3ull;
  return hash;
}

// The structure every example of a task has, whatever the seed (tools/train_toy_doge.py check_example holds the
// same list).
void expect_format(const ToyExample& e, const ToyTaskSettings& s, const std::string& what) {
  const auto L = static_cast<std::int64_t>(e.ids.size());
  ASSERT_EQ(L, s.length) << what;
  EXPECT_EQ(e.ids[0], kBos) << what;
  const std::int32_t task_token = e.task == ToyTask::Mqar ? kMqar : e.task == ToyTask::Needle ? kNeedle : kCopy;
  EXPECT_EQ(e.ids[1], task_token) << what;
  for (const std::int32_t id : e.ids) ASSERT_TRUE(id >= 0 && id < kSize) << what << ": id " << id;
  ASSERT_FALSE(e.answers.empty()) << what;
  ASSERT_EQ(e.answers.size(), e.answer_positions.size()) << what;
  ASSERT_EQ(e.answers.size(), e.sources.size()) << what;
  for (std::size_t a = 0; a < e.answers.size(); ++a) {
    const std::int64_t p = e.answer_positions[a], source = e.sources[a];
    ASSERT_TRUE(0 <= source && source < p && p < L - 1) << what << ": answer " << a;
    EXPECT_EQ(e.ids[p + 1], e.answers[a]) << what << ": answer " << a;
    EXPECT_EQ(e.ids[source], e.answers[a]) << what << ": source of answer " << a;
    if (a > 0) {
      EXPECT_LT(e.answer_positions[a - 1], p) << what;
    }
    if (e.task != ToyTask::Copy) {  // the asked key sits right before its value, and is a key
      EXPECT_EQ(e.ids[p], e.ids[source - 1]) << what << ": answer " << a;
      EXPECT_TRUE(e.ids[p] >= kFirstKey && e.ids[p] < kFirstValue) << what << ": answer " << a;
    }
  }
  std::multiset<std::int32_t> keys;
  for (const std::int32_t id : e.ids)
    if (id >= kFirstKey && id < kFirstValue) keys.insert(id);
  if (e.task == ToyTask::Mqar) {  // each of the N keys twice: in its pair and as its query
    const auto n = static_cast<std::int64_t>(e.answers.size());
    EXPECT_TRUE(n >= s.mqar_pairs_min && n <= s.mqar_pairs_max) << what;
    EXPECT_EQ(static_cast<std::int64_t>(keys.size()), 2 * n) << what;
    for (const std::int32_t key : keys) EXPECT_EQ(keys.count(key), 2u) << what << ": key " << key;
  } else if (e.task == ToyTask::Needle) {
    EXPECT_EQ(e.ids[L - 3], kAsk) << what;
    EXPECT_EQ(e.answer_positions[0], L - 2) << what;
    EXPECT_EQ(e.answers.size(), 1u) << what;
  } else {
    const auto n = static_cast<std::int64_t>(e.answers.size());  // segment length: answers are <sep> + n - 1 tokens
    EXPECT_TRUE(n >= s.copy_length_min && n <= s.copy_length_max) << what;
    EXPECT_EQ(std::count(e.ids.begin(), e.ids.end(), kSep), 2) << what;
    EXPECT_EQ(e.ids[e.answer_positions[0]], kSep) << what;
  }
}

TEST(ToyTasks, GeneratorReproducesThePythonScriptsSequences) {
  // FNV-1a of the ids that tools/train_toy_doge.py's make_example gives for these (task, settings, seed, index),
  // including 64-bit seeds and indices at the top of the range.
  struct Case {
    ToyTask task;
    ToyTaskSettings settings;
    std::uint64_t seed, index, hash;
    std::size_t answers;
  };
  ToyTaskSettings s;
  ToyTaskSettings mqar32 = s, short_mqar = s, short_copy = s;
  mqar32.mqar_pairs_min = mqar32.mqar_pairs_max = 32;
  short_mqar.length = 128;
  short_mqar.mqar_pairs_min = short_mqar.mqar_pairs_max = 8;
  short_copy.length = 96;
  short_copy.copy_length_min = 3;
  short_copy.copy_length_max = 5;
  const Case cases[] = {
      {ToyTask::Mqar, s, 1, 0, 0x33ba246362e088adull, 4},
      {ToyTask::Mqar, mqar32, 9032, 5, 0xa15942f9f84d598dull, 32},
      {ToyTask::Needle, s, 9100, 3, 0xf36e5ff0a68dc6c4ull, 1},
      {ToyTask::Copy, s, 9200, 7, 0xc4010516ac92fdc3ull, 19},
      {ToyTask::Mqar, short_mqar, 42, 123456789, 0x846b35ab692fd177ull, 8},
      {ToyTask::Copy, short_copy, 18446744073709551615ull, 18446744073709551614ull, 0x551f54352746002full, 4},
  };
  for (const Case& c : cases) {
    const ToyExample e = make_toy_example(c.task, c.settings, c.seed, c.index);
    const std::string what = fmt::format("{} seed {} index {}", toy_task_name(c.task), c.seed, c.index);
    EXPECT_EQ(fnv1a(e.ids), c.hash) << what;
    EXPECT_EQ(e.answers.size(), c.answers) << what;
    expect_format(e, c.settings, what);
  }
  const ToyExample first = make_toy_example(ToyTask::Mqar, s, 1, 0);  // answers of the first case, as Python gives
  EXPECT_EQ(std::vector<std::int64_t>(first.answer_positions.begin(), first.answer_positions.begin() + 3),
            (std::vector<std::int64_t>{254, 265, 295}));
  EXPECT_EQ(std::vector<std::int32_t>(first.answers.begin(), first.answers.begin() + 3),
            (std::vector<std::int32_t>{247, 160, 215}));
  EXPECT_EQ(std::vector<std::int64_t>(first.sources.begin(), first.sources.begin() + 3),
            (std::vector<std::int64_t>{28, 32, 30}));
}

TEST(ToyTasks, EveryExampleHasTheTaskFormatAcrossSeedsAndLengths) {
  for (const ToyTask task : {ToyTask::Mqar, ToyTask::Needle, ToyTask::Copy})
    for (const std::int64_t length : {512, 256, 200})
      for (std::uint64_t index = 0; index < 60; ++index) {
        ToyTaskSettings s;
        s.length = length;
        expect_format(make_toy_example(task, s, 77, index), s,
                      fmt::format("{} L{} index {}", toy_task_name(task), length, index));
      }
}

TEST(ToyTasks, SameSeedSameSequenceOtherIndexOtherSequence) {
  const ToyTaskSettings s;
  const auto a = make_toy_example(ToyTask::Copy, s, 5, 10), b = make_toy_example(ToyTask::Copy, s, 5, 10);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.answer_positions, b.answer_positions);
  EXPECT_NE(a.ids, make_toy_example(ToyTask::Copy, s, 5, 11).ids);
  EXPECT_NE(a.ids, make_toy_example(ToyTask::Copy, s, 6, 10).ids);
}

TEST(ToyTasks, SettingsThatCannotFitAreRefusedWithTheirName) {
  ToyTaskSettings s;
  s.length = 100;
  s.mqar_pairs_min = s.mqar_pairs_max = 30;  // 2 + 4·30 > 100
  EXPECT_THROW(make_toy_example(ToyTask::Mqar, s, 1, 0), Error);
  s = {};
  s.copy_length_min = 9;
  s.copy_length_max = 8;
  try {
    make_toy_example(ToyTask::Copy, s, 1, 0);
    FAIL() << "an empty copy_length range was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("copy_length"), std::string::npos) << e.what();
  }
  EXPECT_THROW(toy_task_from_name("recall"), Error);
  EXPECT_THROW(toy_token_name(kSize), Error);
}

TEST(ToyTasks, TokenNamesAreTheVocabularyLayout) {
  EXPECT_EQ(toy_token_name(kBos), "<bos>");
  EXPECT_EQ(toy_token_name(kAsk), "<ask>");
  EXPECT_EQ(toy_token_name(kFirstKey + 12), "k12");
  EXPECT_EQ(toy_token_name(kFirstValue + 127), "v127");
  EXPECT_EQ(toy_token_name(kFirstFiller), "f0");
  EXPECT_EQ(toy_text(std::vector<std::int32_t>{kMqar, kFirstKey, kFirstValue + 3, kSep}), "<mqar> k0 v3 <sep>");
  EXPECT_EQ(toy_task_from_name("needle"), ToyTask::Needle);
}

TEST(ToyTasks, ScoringTakesTheArgmaxAtEachAnswerPosition) {
  ToyExample e;
  e.ids = {kBos, kMqar, kFirstKey, kFirstValue, kFirstKey, kFirstValue};
  e.answer_positions = {2, 4};
  e.answers = {kFirstValue, kFirstValue};
  e.sources = {3, 3};
  std::vector<float> logits(static_cast<std::size_t>(6 * kSize), 0.0f);
  logits[2 * kSize + kFirstValue] = 2.0f;      // row 2: right, margin 2
  logits[4 * kSize + kFirstValue + 1] = 0.5f;  // row 4: wrong (v1), margin 0.5
  const ToyAnswerScore score = score_toy_answers(e, Tensor::from_vector(logits, {1, 6, kSize}));
  EXPECT_EQ(score.predicted, (std::vector<std::int32_t>{kFirstValue, kFirstValue + 1}));
  EXPECT_EQ(score.correct, 1);
  EXPECT_FLOAT_EQ(score.margin[0], 2.0f);
  EXPECT_FLOAT_EQ(score.margin[1], 0.5f);
  EXPECT_THROW(score_toy_answers(e, Tensor::from_vector(logits, {1, 3, 2 * kSize})), Error);
}

// ------------------------------------------------------------------------------------------- bundled toy models
class BundledToyModel : public ::testing::TestWithParam<const char*> {
 protected:
  std::filesystem::path dir() const { return assets_models_dir() / GetParam(); }
  nlohmann::json examples_json() const {
    std::ifstream in(dir() / "eval_examples.json");
    if (!in) throw Error(fmt::format("cannot open {}", (dir() / "eval_examples.json").string()));
    return nlohmann::json::parse(in);
  }
  static ToyTaskSettings settings_of(const nlohmann::json& s) {
    ToyTaskSettings out;
    out.length = s.at("length");
    out.mqar_pairs_min = s.at("mqar_pairs_min");
    out.mqar_pairs_max = s.at("mqar_pairs_max");
    out.needle_pairs_min = s.at("needle_pairs_min");
    out.needle_pairs_max = s.at("needle_pairs_max");
    out.copy_length_min = s.at("copy_length_min");
    out.copy_length_max = s.at("copy_length_max");
    return out;
  }
};

TEST_P(BundledToyModel, VocabularyAndTokenizerFollowTheToyLayout) {
  const auto j = examples_json();
  const auto& v = j.at("vocabulary");
  EXPECT_EQ(v.at("size"), kSize);
  EXPECT_EQ(v.at("first_key"), kFirstKey);
  EXPECT_EQ(v.at("first_value"), kFirstValue);
  EXPECT_EQ(v.at("first_filler"), kFirstFiller);
  for (std::int32_t id = 0; id < kSpecials; ++id) EXPECT_EQ(v.at("specials").at(id), toy_token_name(id));
  const DogeModel model = DogeModel::load(dir());
  EXPECT_EQ(model.config.vocab_size, kSize);
  ASSERT_TRUE(model.has_tokenizer);
  const Tokenizer tokenizer = Tokenizer::load(dir() / "tokenizer.json");
  EXPECT_EQ(tokenizer.vocab_size(), kSize);
  for (std::int32_t id = 0; id < kSize; ++id) EXPECT_EQ(tokenizer.id_to_token(id), toy_token_name(id));
  const ToyExample e = make_toy_example(ToyTask::Mqar, ToyTaskSettings{}, 3, 0);
  const std::vector<std::int32_t> rest(e.ids.begin() + 1, e.ids.end());
  EXPECT_EQ(tokenizer.encode(toy_text(rest), true), e.ids);  // the tokenizer adds <bos>, as training sequences begin
}

TEST_P(BundledToyModel, GeneratorRebuildsTheHeldOutSequencesTheScriptScored) {
  const auto j = examples_json();
  ASSERT_FALSE(j.at("examples").empty());
  for (const auto& x : j.at("examples")) {
    const ToyExample e = make_toy_example(toy_task_from_name(x.at("task").get<std::string>()),
                                          settings_of(x.at("settings")), x.at("seed"), x.at("index"));
    const std::string what = fmt::format("{} {} index {}", GetParam(), x.at("set").get<std::string>(),
                                         x.at("index").get<int>());
    EXPECT_EQ(e.ids, x.at("ids").get<std::vector<std::int32_t>>()) << what;
    EXPECT_EQ(e.answer_positions, x.at("answer_positions").get<std::vector<std::int64_t>>()) << what;
    EXPECT_EQ(e.answers, x.at("answers").get<std::vector<std::int32_t>>()) << what;
    EXPECT_EQ(e.sources, x.at("sources").get<std::vector<std::int64_t>>()) << what;
  }
}

TEST_P(BundledToyModel, CpuForwardGivesTransformersAnswersOnHeldOutSequences) {
  const auto j = examples_json();
  const DogeModel model = DogeModel::load(dir());
  EXPECT_EQ(model.config.keep_window_size, j.at("window").get<std::int64_t>());
  std::vector<ToyExample> examples;
  for (const auto& x : j.at("examples"))
    examples.push_back(make_toy_example(toy_task_from_name(x.at("task").get<std::string>()),
                                        settings_of(x.at("settings")), x.at("seed"), x.at("index")));
  const ToyAccuracy ours = toy_accuracy(model, examples, ForwardOptions{});
  std::int64_t theirs_correct = 0, compared = 0, too_close = 0;
  for (std::size_t i = 0; i < examples.size(); ++i) {
    const auto& x = j.at("examples").at(i);
    const auto hf_argmax = x.at("hf_argmax").get<std::vector<std::int32_t>>();
    const auto hf_margin = x.at("hf_margin").get<std::vector<double>>();
    ASSERT_EQ(hf_argmax.size(), examples[i].answers.size());
    for (std::size_t a = 0; a < hf_argmax.size(); ++a) {
      theirs_correct += hf_argmax[a] == examples[i].answers[a];
      if (hf_margin[a] < kArgmaxMarginTolerance) {
        ++too_close;
        continue;
      }
      ++compared;
      EXPECT_EQ(ours.per_example[i].predicted[a], hf_argmax[a])
          << GetParam() << " example " << i << " (" << x.at("set").get<std::string>() << ") answer " << a
          << " at position " << examples[i].answer_positions[a] << ", transformers' margin " << hf_margin[a];
    }
  }
  EXPECT_GE(compared, ours.total - 2) << "too many answers too close to call: " << too_close;
  EXPECT_LE(std::abs(ours.correct - theirs_correct), too_close)
      << GetParam() << ": ours " << ours.correct << " / " << ours.total << ", transformers " << theirs_correct;
}

TEST_P(BundledToyModel, SourcesKeptAgreeWithABruteForceTopWOfTheBias) {
  // toy_sources_kept reads the compact mask (death indices); here the same question is answered from β alone: row p
  // keeps the w keys of 0..p with the largest β, ties to the lower index (the CUDA rule transformers followed).
  const auto j = examples_json();
  const DogeModel model = DogeModel::load(dir());
  const auto& x = j.at("examples").at(0);
  const ToyExample e = make_toy_example(toy_task_from_name(x.at("task").get<std::string>()),
                                        settings_of(x.at("settings")), x.at("seed"), x.at("index"));
  const ForwardResult result = doge_forward(model, e.ids, ForwardOptions{});
  const auto kept = toy_sources_kept(result, e);
  ASSERT_EQ(kept.size(), static_cast<std::size_t>(model.config.num_hidden_layers));
  const std::int64_t w = result.window;
  std::int64_t kept_somewhere = 0;
  for (std::size_t layer = 0; layer < kept.size(); ++layer) {
    const Tensor& beta = result.layers[layer].dyn_bias;  // [1, Hb, L]
    const std::int64_t heads = beta.dim(1), L = beta.dim(2);
    const float* all = beta.data<float>();
    for (std::size_t a = 0; a < e.answers.size(); ++a) {
      const std::int64_t p = e.answer_positions[a], source = e.sources[a];
      bool any_head = false;
      for (std::int64_t h = 0; h < heads; ++h) {
        const float* b = all + h * L;
        std::int64_t better = 0;  // keys of 0..p that come before the source in (β desc, index asc)
        for (std::int64_t k = 0; k <= p; ++k) better += b[k] > b[source] || (b[k] == b[source] && k < source);
        any_head = any_head || better < w;
      }
      EXPECT_EQ(kept[layer][a], any_head) << GetParam() << " layer " << layer << " answer " << a << " at " << p;
      kept_somewhere += kept[layer][a];
    }
  }
  EXPECT_GT(kept_somewhere, 0) << "no answer's source kept in any layer: the bias picks other keys everywhere";
}

INSTANTIATE_TEST_SUITE_P(Assets, BundledToyModel, ::testing::ValuesIn(kBundledToyModels),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (auto& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

}  // namespace
}  // namespace dmascope
