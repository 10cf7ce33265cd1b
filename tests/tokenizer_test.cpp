#include "core/tokenizer/tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/base/error.h"
#include "core/tokenizer/tokenizer_pattern.h"
#include "tests/test_paths.h"

namespace dmascope {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// ------------------------------------------------------------------------------------------ the library's fixtures

std::filesystem::path fixture_dir(const std::string& name) { return testing::fixtures_dir() / "tokenizers" / name; }

nlohmann::json read_expected(const std::string& name) {
  std::ifstream file(fixture_dir(name) / "expected.json");
  return nlohmann::json::parse(file);
}

class TokenizerFixture : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    tokenizer_ = std::make_unique<Tokenizer>(Tokenizer::load(fixture_dir(GetParam()) / "tokenizer.json"));
    expected_ = read_expected(GetParam());
  }
  std::unique_ptr<Tokenizer> tokenizer_;
  nlohmann::json expected_;
};

TEST_P(TokenizerFixture, EncodeWithoutSpecialTokensMatchesTheLibrary) {
  for (const auto& c : expected_["cases"]) {
    const std::string text = c["text"];
    EXPECT_EQ(tokenizer_->encode(text, false), c["ids"].get<std::vector<std::int32_t>>()) << "text: " << text;
  }
}

TEST_P(TokenizerFixture, EncodeWithSpecialTokensMatchesTheLibrary) {
  for (const auto& c : expected_["cases"]) {
    const std::string text = c["text"];
    EXPECT_EQ(tokenizer_->encode(text, true), c["ids_with_special"].get<std::vector<std::int32_t>>())
        << "text: " << text;
  }
}

TEST_P(TokenizerFixture, DecodeMatchesTheLibrary) {
  for (const auto& c : expected_["cases"]) {
    const auto ids = c["ids"].get<std::vector<std::int32_t>>();
    EXPECT_EQ(tokenizer_->decode(ids, false), c["decoded"].get<std::string>()) << "text: " << c["text"];
  }
}

TEST_P(TokenizerFixture, DecodeSkippingSpecialTokensMatchesTheLibrary) {
  for (const auto& c : expected_["cases"]) {
    const auto ids = c["ids"].get<std::vector<std::int32_t>>();
    EXPECT_EQ(tokenizer_->decode(ids, true), c["decoded_skip_special"].get<std::string>()) << "text: " << c["text"];
  }
}

TEST_P(TokenizerFixture, DecodeOfEachSingleIdMatchesTheLibrary) {
  const auto& per_id = expected_["decode_each_id"];
  ASSERT_EQ(static_cast<std::size_t>(tokenizer_->vocab_size()), per_id.size());
  for (std::int32_t id = 0; id < tokenizer_->vocab_size(); ++id) {
    const std::int32_t ids[] = {id};
    EXPECT_EQ(tokenizer_->decode(ids), per_id[static_cast<std::size_t>(id)].get<std::string>()) << "id " << id;
  }
}

TEST_P(TokenizerFixture, IdToTokenMatchesTheLibraryAndTokenToIdInvertsIt) {
  const auto& tokens = expected_["id_to_token"];
  ASSERT_EQ(static_cast<std::size_t>(tokenizer_->vocab_size()), tokens.size());
  EXPECT_EQ(tokenizer_->vocab_size(), expected_["vocab_size"].get<std::int32_t>());
  for (std::int32_t id = 0; id < tokenizer_->vocab_size(); ++id) {
    const std::string token = tokens[static_cast<std::size_t>(id)];
    EXPECT_EQ(tokenizer_->id_to_token(id), token) << "id " << id;
    EXPECT_EQ(tokenizer_->token_to_id(token), id) << "token " << token;
  }
}

TEST_P(TokenizerFixture, UnknownIdsAreErrorsNotCrashes) {
  const std::int32_t past_the_end[] = {tokenizer_->vocab_size()};
  const std::int32_t negative[] = {-1};
  EXPECT_THROW(tokenizer_->decode(past_the_end), Error);
  EXPECT_THROW(tokenizer_->decode(negative), Error);
  EXPECT_THROW(tokenizer_->id_to_token(-5), Error);
  EXPECT_FALSE(tokenizer_->is_special(-5));
  EXPECT_EQ(tokenizer_->token_to_id("no such token anywhere"), std::nullopt);
}

TEST_P(TokenizerFixture, InvalidUtf8TextIsAnError) {
  EXPECT_THROW(tokenizer_->encode("abc\xff"), Error);
  EXPECT_THROW(tokenizer_->encode("\xe6\x97"), Error);      // a cut character
  EXPECT_THROW(tokenizer_->encode("\xed\xa0\x80"), Error);  // a surrogate
  EXPECT_THROW(tokenizer_->encode("\xc0\xaf"), Error);      // an overlong
}

TEST_P(TokenizerFixture, EncodeThenDecodeGivesTheTextBackForCoveredCharacters) {
  const std::string text = "the model keeps the best keys";
  const auto ids = tokenizer_->encode(text);
  EXPECT_THAT(tokenizer_->decode(ids), HasSubstr("the model keeps the best keys"));
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, TokenizerFixture,
                         ::testing::Values("bytelevel_llama3", "bytelevel_gpt2", "metaspace_bytefallback",
                                           "metaspace_pretok"),
                         [](const auto& info) { return info.param; });

// ------------------------------------------------------------------------------------------------ token_display

TEST(TokenizerDisplay, ShowsWhitespaceControlsAndSpecialTokensReadably) {
  const Tokenizer llama = Tokenizer::load(fixture_dir("bytelevel_llama3") / "tokenizer.json");
  EXPECT_EQ(llama.token_display(*llama.token_to_id("<|begin_of_text|>")), "<|begin_of_text|>");
  EXPECT_EQ(llama.token_display(*llama.token_to_id("\xc4\xa0")), "\u2423");        // Ġ, the space byte
  EXPECT_EQ(llama.token_display(*llama.token_to_id("\xc4\x8a")), "\u21b5");        // Ċ, the newline byte
  EXPECT_EQ(llama.token_display(*llama.token_to_id("\xc4\x89")), "\u21e5");        // ĉ, the tab byte
  EXPECT_EQ(llama.token_display(*llama.token_to_id("\xc4\x80")), "\\x00");         // Ā, byte 0
  EXPECT_EQ(llama.token_display(*llama.token_to_id("\xc4\x8d")), "\\x0D");         // č, carriage return
  EXPECT_EQ(llama.token_display(*llama.token_to_id("\xc3\xa6")), "<0xE6>");  // æ, byte 0xE6 alone: a cut character
  EXPECT_EQ(llama.token_display(*llama.token_to_id("a")), "a");

  const Tokenizer metaspace = Tokenizer::load(fixture_dir("metaspace_pretok") / "tokenizer.json");
  // decode(["▁"]) is empty (the decoder drops a leading ▁), so the label falls back to the raw token.
  EXPECT_EQ(metaspace.token_display(*metaspace.token_to_id("\xe2\x96\x81")), "\xe2\x96\x81");
  const auto word = metaspace.token_to_id("\xe2\x96\x81t");
  ASSERT_TRUE(word.has_value());
  EXPECT_EQ(metaspace.token_display(*word), "t");

  const Tokenizer byte_fallback = Tokenizer::load(fixture_dir("metaspace_bytefallback") / "tokenizer.json");
  EXPECT_EQ(byte_fallback.token_display(*byte_fallback.token_to_id("<0x0A>")), "\u21b5");
  EXPECT_EQ(byte_fallback.token_display(*byte_fallback.token_to_id("<0x07>")), "\\x07");
  EXPECT_EQ(byte_fallback.token_display(*byte_fallback.token_to_id("<0x80>")), "<0x80>");
  EXPECT_TRUE(byte_fallback.is_special(*byte_fallback.token_to_id("<s>")));
  EXPECT_FALSE(byte_fallback.is_special(*byte_fallback.token_to_id("<0x80>")));
}

// ------------------------------------------------------------------------------------ small hand-written tokenizers

// A tokenizer.json around a BPE model with the given vocab and merges, plus extra top-level members.
std::string tokenizer_json(const std::string& vocab, const std::string& merges, const std::string& extra = "",
                           const std::string& model_extra = "") {
  return R"({"version": "1.0", "model": {"type": "BPE", "vocab": )" + vocab + R"(, "merges": )" + merges + model_extra +
         "}" + extra + "}";
}

constexpr const char* kAbcVocab = R"({"<unk>": 0, "a": 1, "b": 2, "c": 3, "ab": 4, "abc": 5, "bc": 6, " ": 7})";

TEST(TokenizerBpe, LowestRankedMergeWinsAndBothMergeSpellingsAreRead) {
  // "b c" outranks "a b": "abc" -> a + bc, which has no merge.
  const Tokenizer strings =
      Tokenizer::from_json_text(tokenizer_json(kAbcVocab, R"(["b c", "a b", "ab c"])"), "strings.json");
  EXPECT_THAT(strings.encode("abc"), ElementsAre(1, 6));
  const Tokenizer pairs =
      Tokenizer::from_json_text(tokenizer_json(kAbcVocab, R"([["a", "b"], ["ab", "c"], ["b", "c"]])"), "pairs.json");
  EXPECT_THAT(pairs.encode("abc"), ElementsAre(5));
  EXPECT_THAT(pairs.encode("abcabc"), ElementsAre(5, 5));
}

TEST(TokenizerBpe, UnknownCharactersBecomeUnkFusedOrNotOrAreDroppedWithoutUnk) {
  const std::string merges = "[]";
  const Tokenizer unfused =
      Tokenizer::from_json_text(tokenizer_json(kAbcVocab, merges, "", R"(, "unk_token": "<unk>")"), "t.json");
  EXPECT_THAT(unfused.encode("axyb"), ElementsAre(1, 0, 0, 2));
  const Tokenizer fused = Tokenizer::from_json_text(
      tokenizer_json(kAbcVocab, merges, "", R"(, "unk_token": "<unk>", "fuse_unk": true)"), "t.json");
  EXPECT_THAT(fused.encode("axyb"), ElementsAre(1, 0, 2));
  const Tokenizer no_unk = Tokenizer::from_json_text(tokenizer_json(kAbcVocab, merges), "t.json");
  EXPECT_THAT(no_unk.encode("axyb"), ElementsAre(1, 2));
}

TEST(TokenizerBpe, IgnoreMergesTakesWholeWordsFromTheVocab) {
  const std::string vocab = R"({"a": 0, "b": 1, "c": 2, "ab": 3, "abc": 4})";
  const Tokenizer merging = Tokenizer::from_json_text(tokenizer_json(vocab, R"(["a b"])"), "t.json");
  EXPECT_THAT(merging.encode("abc"), ElementsAre(3, 2));
  const Tokenizer whole =
      Tokenizer::from_json_text(tokenizer_json(vocab, R"(["a b"])", "", R"(, "ignore_merges": true)"), "t.json");
  EXPECT_THAT(whole.encode("abc"), ElementsAre(4));
}

TEST(TokenizerBpe, ContinuingSubwordPrefixAndEndOfWordSuffix) {
  const std::string vocab = R"({"a": 0, "##b": 1, "##c": 2, "ab": 3, "##c</w>": 4, "ab##c</w>": 5, "abc</w>": 6})";
  const Tokenizer tokenizer = Tokenizer::from_json_text(
      tokenizer_json(vocab, R"(["a ##b", "ab ##c</w>"])", R"(, "decoder": {"type": "BPEDecoder", "suffix": "</w>"})",
                     R"(, "continuing_subword_prefix": "##", "end_of_word_suffix": "</w>")"),
      "t.json");
  // "a" "##b" "##c</w>" -> "ab" (prefix dropped on merging) -> "ab" + "##c</w>" = "abc</w>".
  EXPECT_THAT(tokenizer.encode("abc"), ElementsAre(6));
  const std::int32_t ids[] = {6, 6};
  EXPECT_EQ(tokenizer.decode(ids), "abc abc");
}

TEST(TokenizerBpe, ByteFallbackSpellsUnknownCharactersInBytes) {
  std::string vocab = R"({"<unk>": 0, "a": 1)";
  for (int byte = 0; byte < 256; ++byte) vocab += fmt::format(R"(, "<0x{:02X}>": {})", byte, byte + 2);
  vocab += "}";
  const Tokenizer tokenizer = Tokenizer::from_json_text(
      tokenizer_json(vocab, "[]",
                     R"(, "decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"}]})",
                     R"(, "unk_token": "<unk>", "byte_fallback": true)"),
      "t.json");
  const auto ids = tokenizer.encode("a\xc3\xa9");  // é = C3 A9
  EXPECT_THAT(ids, ElementsAre(1, 0xC3 + 2, 0xA9 + 2));
  EXPECT_EQ(tokenizer.decode(ids), "a\xc3\xa9");
  const std::int32_t cut[] = {1, 0xC3 + 2};
  EXPECT_EQ(tokenizer.decode(cut), "a\xef\xbf\xbd");
}

// ------------------------------------------------------------------------------------------------- added tokens

constexpr const char* kLetters = R"({"a": 0, "b": 1, " ": 2, "<x>": 3, "<xy>": 4, "y": 5, "<": 6, ">": 7, "x": 8})";

std::string with_added(const std::string& added_tokens) {
  return tokenizer_json(kLetters, "[]", R"(, "added_tokens": )" + added_tokens);
}

TEST(TokenizerAddedTokens, LongestMatchWinsAndMatchesBeforeTheModel) {
  const Tokenizer tokenizer = Tokenizer::from_json_text(
      with_added(R"([{"id": 10, "content": "<x>", "special": true}, {"id": 11, "content": "<xy>", "special": true}])"),
      "t.json");
  EXPECT_THAT(tokenizer.encode("a<xy>b<x>"), ElementsAre(0, 11, 1, 10));
  EXPECT_EQ(tokenizer.vocab_size(), 12);
  EXPECT_TRUE(tokenizer.is_special(10));
  EXPECT_EQ(tokenizer.token_to_id("<xy>"), 11);
}

TEST(TokenizerAddedTokens, LstripAndRstripSwallowTheSurroundingWhitespace) {
  const Tokenizer stripping = Tokenizer::from_json_text(
      with_added(R"([{"id": 10, "content": "<x>", "lstrip": true, "rstrip": true}])"), "t.json");
  EXPECT_THAT(stripping.encode("a  <x>  b"), ElementsAre(0, 10, 1));
  const Tokenizer plain = Tokenizer::from_json_text(with_added(R"([{"id": 10, "content": "<x>"}])"), "t.json");
  EXPECT_THAT(plain.encode("a  <x>  b"), ElementsAre(0, 2, 2, 10, 2, 2, 1));
}

TEST(TokenizerAddedTokens, SingleWordTokensDoNotMatchInsideWords) {
  const Tokenizer tokenizer =
      Tokenizer::from_json_text(with_added(R"([{"id": 10, "content": "ab", "single_word": true}])"), "t.json");
  EXPECT_THAT(tokenizer.encode("ab"), ElementsAre(10));
  EXPECT_THAT(tokenizer.encode("a ab b"), ElementsAre(0, 2, 10, 2, 1));
  EXPECT_THAT(tokenizer.encode("bab"), ElementsAre(1, 0, 1));
}

TEST(TokenizerAddedTokens, SkipSpecialTokensDropsOnlySpecialOnes) {
  const Tokenizer tokenizer = Tokenizer::from_json_text(
      with_added(R"([{"id": 10, "content": "<s>", "special": true}, {"id": 11, "content": "<w>", "special": false}])"),
      "t.json");
  const auto ids = tokenizer.encode("<s>a<w>");
  EXPECT_THAT(ids, ElementsAre(10, 0, 11));
  EXPECT_EQ(tokenizer.decode(ids, false), "<s> a <w>");  // no decoder: tokens joined by spaces, as the library does
  EXPECT_EQ(tokenizer.decode(ids, true), "a <w>");
}

TEST(TokenizerAddedTokens, NormalizedTokensAreMatchedAfterNormalization) {
  const std::string vocab = R"({"a": 0, "b": 1})";
  const Tokenizer tokenizer = Tokenizer::from_json_text(tokenizer_json(vocab, "[]",
                                                                       R"(, "normalizer": {"type": "Lowercase"},
                         "added_tokens": [{"id": 5, "content": "HELLO", "normalized": true}])"),
                                                        "t.json");
  EXPECT_THAT(tokenizer.encode("aHeLLob"), ElementsAre(0, 5, 1));
  EXPECT_EQ(tokenizer.id_to_token(5), "hello");  // the library reports the normalized form
}

// ------------------------------------------------------------------------------------ normalizers, pre-tokenizers

TEST(TokenizerPreTokenizers, SplitBehavioursCutAsTheLibraryDoes) {
  const std::string vocab = R"({"a": 0, "b": 1, "-": 2, "a-": 3, "-b": 4, "--": 5, "ab": 6})";
  const std::string merges = R"(["a -", "- b", "- -", "a b"])";
  auto with_split = [&](const std::string& behavior, bool invert = false) {
    return Tokenizer::from_json_text(
        tokenizer_json(vocab, merges,
                       R"(, "pre_tokenizer": {"type": "Split", "pattern": {"String": "-"}, "behavior": ")" + behavior +
                           R"(", "invert": )" + (invert ? "true" : "false") + "}"),
        "t.json");
  };
  // Text "a-b--ab": words differ per behaviour, and merges never cross words.
  EXPECT_THAT(with_split("Removed").encode("a-b--ab"), ElementsAre(0, 1, 6));
  EXPECT_THAT(with_split("Isolated").encode("a-b--ab"), ElementsAre(0, 2, 1, 2, 2, 6));
  EXPECT_THAT(with_split("MergedWithPrevious").encode("a-b--ab"), ElementsAre(3, 1, 2, 2, 6));
  EXPECT_THAT(with_split("MergedWithNext").encode("a-b--ab"), ElementsAre(0, 4, 2, 2, 6));
  EXPECT_THAT(with_split("Contiguous").encode("a-b--ab"), ElementsAre(0, 2, 1, 5, 6));
  // Inverted, the pattern's matches are what is kept: each "-" on its own.
  EXPECT_THAT(with_split("Removed", true).encode("a-b--ab"), ElementsAre(2, 2, 2));
}

TEST(TokenizerPreTokenizers, RegexSplitUsesUnicodeClasses) {
  const std::string vocab = R"({"a": 0, "\u00e9": 1, "1": 2, " ": 3, "a\u00e9": 4})";
  const Tokenizer tokenizer = Tokenizer::from_json_text(
      tokenizer_json(vocab, R"(["a \u00e9"])",
                     R"(, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\\p{L}+|\\p{N}|\\s+"},
                                             "behavior": "Isolated", "invert": false})"),
      "t.json");
  EXPECT_THAT(tokenizer.encode("a\xc3\xa9 1"), ElementsAre(4, 3, 2));
}

TEST(TokenizerPreTokenizers, WhitespaceDigitsAndPunctuation) {
  const std::string vocab = R"({"a": 0, "b": 1, "1": 2, "2": 3, "12": 4, "!": 5, "ab": 6, " ": 7})";
  const std::string merges = R"(["1 2", "a b"])";
  auto with = [&](const std::string& pre_tokenizer) {
    return Tokenizer::from_json_text(tokenizer_json(vocab, merges, R"(, "pre_tokenizer": )" + pre_tokenizer), "t.json");
  };
  EXPECT_THAT(with(R"({"type": "Whitespace"})").encode("ab 12!!"), ElementsAre(6, 4, 5, 5));
  EXPECT_THAT(with(R"({"type": "WhitespaceSplit"})").encode("ab  12"), ElementsAre(6, 4));
  EXPECT_THAT(with(R"({"type": "Digits", "individual_digits": true})").encode("12"), ElementsAre(2, 3));
  EXPECT_THAT(with(R"({"type": "Digits", "individual_digits": false})").encode("ab12"), ElementsAre(6, 4));
  EXPECT_THAT(with(R"({"type": "Punctuation"})").encode("ab!"), ElementsAre(6, 5));
}

TEST(TokenizerNormalizers, ReplaceWithARegexAndLowercase) {
  const std::string vocab = R"({"a": 0, "_": 1, "\u00e9": 2, "i": 3, "\u0307": 4})";
  const Tokenizer tokenizer =
      Tokenizer::from_json_text(tokenizer_json(vocab, "[]",
                                               R"(, "normalizer": {"type": "Sequence", "normalizers": [
                            {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": "_"},
                            {"type": "Lowercase"}]})"),
                                "t.json");
  EXPECT_THAT(tokenizer.encode("A \t\xc3\x89"), ElementsAre(0, 1, 2));  // É -> é
  EXPECT_THAT(tokenizer.encode("\xc4\xb0"), ElementsAre(3, 4));         // İ -> i + U+0307, as Rust lowercases it
}

TEST(TokenizerPatterns, OnigurumaClassesAreSpelledOutForPcre2) {
  using tokenizer_detail::oniguruma_compatible_regex;
  EXPECT_THAT(oniguruma_compatible_regex(R"(\s+(?!\S))"), AllOf(HasSubstr("[\\t-\\r"), HasSubstr("(?![^\\t-\\r")));
  EXPECT_THAT(oniguruma_compatible_regex(R"([^\s\p{L}])"), HasSubstr("[^\\t-\\r"));
  EXPECT_EQ(oniguruma_compatible_regex(R"(\\s)"), R"(\\s)");        // an escaped backslash, then a letter
  EXPECT_EQ(oniguruma_compatible_regex(R"(\Q\s\E)"), R"(\Q\s\E)");  // quoted text stays
  EXPECT_EQ(oniguruma_compatible_regex(R"([]\S])"), R"([]\S])");    // a negated class escape inside a class stays
  // U+180E is not White_Space (Oniguruma) though PCRE2's own \s takes it; U+0085 is.
  const auto pattern = tokenizer_detail::Pattern::regex(R"(\s)", "test");
  EXPECT_EQ(pattern.segments("\xe1\xa0\x8e").front().is_match, false);
  EXPECT_EQ(pattern.segments("\xc2\x85").front().is_match, true);
}

// ------------------------------------------------------------------------------------------------ malformed files

std::string error_of(const std::string& json_text) {
  try {
    Tokenizer::from_json_text(json_text, "bad/tokenizer.json");
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(TokenizerMalformed, NotJsonNamesTheSource) {
  EXPECT_THAT(error_of("{\"model\": "), AllOf(HasSubstr("bad/tokenizer.json"), HasSubstr("not valid JSON")));
  EXPECT_THAT(error_of("[1, 2]"), AllOf(HasSubstr("bad/tokenizer.json"), HasSubstr("top level")));
}

TEST(TokenizerMalformed, MissingModelNamesTheField) {
  EXPECT_THAT(error_of(R"({"version": "1.0"})"),
              AllOf(HasSubstr("bad/tokenizer.json"), HasSubstr("'model'"), HasSubstr("missing")));
  EXPECT_THAT(error_of(R"({"model": {"type": "BPE", "merges": []}})"), HasSubstr("'model.vocab' is missing"));
}

TEST(TokenizerMalformed, UnknownModelTypeNamesTheType) {
  EXPECT_THAT(error_of(R"({"model": {"type": "WordPiece", "vocab": {}}})"),
              AllOf(HasSubstr("bad/tokenizer.json"), HasSubstr("'model.type'"), HasSubstr("\"WordPiece\"")));
}

TEST(TokenizerMalformed, MergeOfATokenMissingFromTheVocabNamesTheMerge) {
  EXPECT_THAT(error_of(tokenizer_json(R"({"a": 0, "b": 1, "ab": 2})", R"(["a b", "a c"])")),
              AllOf(HasSubstr("bad/tokenizer.json"), HasSubstr("'model.merges[1]'"), HasSubstr("\"c\"")));
  EXPECT_THAT(error_of(tokenizer_json(R"({"a": 0, "b": 1})", R"(["a b"])")),
              AllOf(HasSubstr("'model.merges[0]'"), HasSubstr("\"ab\"")));
  EXPECT_THAT(error_of(tokenizer_json(R"({"a": 0})", R"(["a b c"])")), HasSubstr("'model.merges[0]'"));
  EXPECT_THAT(error_of(tokenizer_json(R"({"a": -3})", "[]")), HasSubstr("model.vocab[\"a\"]"));
}

TEST(TokenizerMalformed, UnknownPreTokenizerTypeNamesTheTypeAndField) {
  EXPECT_THAT(error_of(tokenizer_json(kAbcVocab, "[]",
                                      R"(, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                                             {"type": "ByteLevel"}, {"type": "UnicodeScripts"}]})")),
              AllOf(HasSubstr("bad/tokenizer.json"), HasSubstr("'pre_tokenizer.pretokenizers[1]'"),
                    HasSubstr("\"UnicodeScripts\"")));
}

TEST(TokenizerMalformed, BadRegexNamesTheField) {
  EXPECT_THAT(
      error_of(tokenizer_json(kAbcVocab, "[]",
                              R"(, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(unclosed"},
                                                             "behavior": "Isolated", "invert": false})")),
      AllOf(HasSubstr("bad/tokenizer.json"), HasSubstr("'pre_tokenizer.pattern.Regex'"), HasSubstr("(unclosed")));
}

TEST(TokenizerMalformed, UnsupportedComponentsAreNamed) {
  EXPECT_THAT(error_of(tokenizer_json(kAbcVocab, "[]", R"(, "normalizer": {"type": "NFC"})")),
              AllOf(HasSubstr("'normalizer'"), HasSubstr("unsupported normalizer type \"NFC\"")));
  EXPECT_THAT(error_of(tokenizer_json(kAbcVocab, "[]", R"(, "decoder": {"type": "WordPiece"})")),
              AllOf(HasSubstr("'decoder'"), HasSubstr("\"WordPiece\"")));
  EXPECT_THAT(error_of(tokenizer_json(kAbcVocab, "[]", R"(, "post_processor": {"type": "Mystery"})")),
              AllOf(HasSubstr("'post_processor'"), HasSubstr("\"Mystery\"")));
  EXPECT_THAT(error_of(tokenizer_json(kAbcVocab, "[]", "", R"(, "dropout": 0.1)")),
              AllOf(HasSubstr("'model.dropout'"), HasSubstr("not supported")));
  EXPECT_THAT(error_of(tokenizer_json(kAbcVocab, "[]", R"(, "post_processor": {"type": "TemplateProcessing",
                                                           "single": "<s> $A", "special_tokens": {}})")),
              AllOf(HasSubstr("'post_processor.single'"), HasSubstr("\"<s>\"")));
  EXPECT_THAT(error_of(tokenizer_json(kAbcVocab, "[]", R"(, "added_tokens": [{"id": "x", "content": "y"}])")),
              HasSubstr("'added_tokens[0].id'"));
  EXPECT_THAT(
      error_of(tokenizer_json(kAbcVocab, "[]", R"(, "post_processor": {"type": "TemplateProcessing",
                  "single": "<s> $A", "special_tokens": {"<s>": {"id": "<s>", "ids": [99], "tokens": ["<s>"]}}})")),
      AllOf(HasSubstr("'post_processor.special_tokens.<s>.ids[0]'"), HasSubstr("id 99 is not in the vocabulary")));
}

TEST(TokenizerMalformed, HostileFilesAreRefusedInsteadOfExhaustingMemoryOrStack) {
  // Each Replace puts "xx" between every two characters: 30 of them would grow a text 3^30-fold.
  std::string replaces;
  for (int i = 0; i < 30; ++i) {
    replaces += std::string(i ? "," : "") + R"({"type": "Replace", "pattern": {"Regex": ""}, "content": "xx"})";
  }
  const Tokenizer growing = Tokenizer::from_json_text(
      tokenizer_json(kAbcVocab, "[]", R"(, "normalizer": {"type": "Sequence", "normalizers": [)" + replaces + "]}"),
      "bad/tokenizer.json");
  try {
    growing.encode("abc");
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), AllOf(HasSubstr("bad/tokenizer.json"), HasSubstr("'normalizer'"), HasSubstr("grew")));
  }

  std::string nested = R"({"type": "Fuse"})";
  for (int i = 0; i < 100; ++i) nested = R"({"type": "Sequence", "decoders": [)" + nested + "]}";
  EXPECT_THAT(error_of(tokenizer_json(kAbcVocab, "[]", R"(, "decoder": )" + nested)),
              AllOf(HasSubstr("'decoder.decoders[0]"), HasSubstr("nested")));
}

TEST(TokenizerMalformed, LoadNamesTheMissingPath) {
  try {
    Tokenizer::load("/nonexistent/dir/tokenizer.json");
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), HasSubstr("/nonexistent/dir/tokenizer.json"));
  }
}

}  // namespace
}  // namespace dmascope

namespace dmascope {
namespace {

// A byte-level token that is part of a multi-byte character decodes to U+FFFD on its own: its label shows its byte,
// and a token holding the whole character shows the character.
TEST(TokenDisplay, PartialCharactersShowTheirBytesWholeOnesTheCharacter) {
  const Tokenizer byte_level = Tokenizer::from_json_text(
      R"({"version": "1.0", "model": {"type": "BPE", "vocab": {"Ã": 0, "©": 1, "Ã©": 2, "ĠÃ": 3}, "merges": []},
          "decoder": {"type": "ByteLevel"}})",
      "byte-level.json");
  EXPECT_EQ(byte_level.token_display(0), "<0xC3>");
  EXPECT_EQ(byte_level.token_display(1), "<0xA9>");
  EXPECT_EQ(byte_level.token_display(2), "\xc3\xa9");  // é
  EXPECT_EQ(byte_level.token_display(3), "\u2423<0xC3>");
  const Tokenizer byte_fallback = Tokenizer::from_json_text(
      R"({"version": "1.0", "model": {"type": "BPE", "vocab": {"<0xE2>": 0, "<0x86>": 1, "→": 2}, "merges": [],
          "byte_fallback": true}, "decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"},
          {"type": "Fuse"}]}})",
      "byte-fallback.json");
  EXPECT_EQ(byte_fallback.token_display(0), "<0xE2>");
  EXPECT_EQ(byte_fallback.token_display(1), "<0x86>");
  EXPECT_EQ(byte_fallback.token_display(2), "\xe2\x86\x92");
}

}  // namespace
}  // namespace dmascope
