#include "engine/pipeline/toy_answers.h"

#include <fmt/format.h>

#include "core/mask/dma_mask.h"

namespace dmascope::engine {

std::int64_t ToyAnswers::kept_count(std::int64_t layer, std::int64_t bias_head) const {
  std::int64_t count = 0;
  for (const bool kept_here : kept.at(static_cast<std::size_t>(layer)).at(static_cast<std::size_t>(bias_head)))
    count += kept_here;
  return count;
}

std::int64_t ToyAnswers::kept_by_layer(std::int64_t layer) const {
  const auto& heads = kept.at(static_cast<std::size_t>(layer));
  std::int64_t count = 0;
  for (std::size_t a = 0; a < static_cast<std::size_t>(total()); ++a) {
    bool any = false;
    for (const auto& head : heads) any = any || head[a];
    count += any;
  }
  return count;
}

bool uses_toy_vocabulary(const LoadedModel& model) {
  if (model.model.config.vocab_size != toy_vocab::kSize) return false;
  if (!model.tokenizer) return true;
  try {
    for (const std::int32_t id : {toy_vocab::kBos, toy_vocab::kMqar, toy_vocab::kNeedle, toy_vocab::kCopy,
                                  toy_vocab::kSep, toy_vocab::kAsk, toy_vocab::kFirstKey, toy_vocab::kFirstValue})
      if (model.tokenizer->id_to_token(id) != toy_token_name(id)) return false;
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

std::optional<ToyExample> toy_example_of(const LoadedModel& model, const std::vector<std::int32_t>& ids) {
  if (!uses_toy_vocabulary(model)) return std::nullopt;
  return recognize_toy_example(ids);
}

ToyAnswers score_answers(const PipelineResult& result, ToyExample example) {
  ToyAnswers answers;
  answers.example = std::move(example);
  const Tensor& logits = result.forward.logits;
  if (logits.defined() && logits.rank() == 3 && logits.dim(1) == result.length()) {
    answers.score = score_toy_answers(answers.example, logits);
    answers.scored = true;
  } else {
    answers.unscored_reason = "the logits of the answer rows were not kept at this length";
  }
  for (std::int64_t layer = 0; layer < result.layers(); ++layer) {
    auto& heads = answers.kept.emplace_back();
    for (std::int64_t head = 0; head < result.bias_heads(); ++head) {
      const auto death = result.death(layer, head);
      auto& row = heads.emplace_back();
      for (std::size_t a = 0; a < static_cast<std::size_t>(answers.total()); ++a)
        row.push_back(dma_keeps(death, answers.example.answer_positions[a], answers.example.sources[a]));
    }
  }
  return answers;
}

}  // namespace dmascope::engine
