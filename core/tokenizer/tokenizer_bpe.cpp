#include "core/tokenizer/tokenizer_bpe.h"

#include <algorithm>
#include <mutex>
#include <queue>

#include "core/tokenizer/tokenizer_text.h"

namespace dmascope::tokenizer_detail {

// Words repeat a lot in text, so their ids are kept; the bounds are the `tokenizers` library's (10000 words, each
// shorter than 256 bytes), which keeps the memory small however long the text.
struct BpeModel::WordCache {
  static constexpr std::size_t kMaxWords = 10000;
  static constexpr std::size_t kMaxWordBytes = 256;
  std::mutex mutex;
  StringMap<std::vector<std::int32_t>> ids_of_word;
};

namespace {

std::uint64_t pair_key(std::int32_t left, std::int32_t right) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) | static_cast<std::uint32_t>(right);
}

// One symbol of a word being merged: a token id in a doubly linked list over the word's initial symbols.
struct Symbol {
  std::int32_t id;
  std::ptrdiff_t previous;  // -1: none
  std::ptrdiff_t next;      // -1: none
  bool merged_away = false;
};

struct QueuedMerge {
  std::int32_t rank;
  std::size_t position;  // of the left symbol
  std::int32_t merged_id;
  // Lowest rank first, and the leftmost pair among equal ranks, as the library's heap orders them.
  bool operator>(const QueuedMerge& other) const {
    return rank != other.rank ? rank > other.rank : position > other.position;
  }
};

}  // namespace

BpeModel BpeModel::parse(const JsonField& model) {
  BpeModel bpe;
  bpe.source_ = std::string(model.source());
  const std::string type = model.type_name();
  if (type != "BPE") {
    model.member("type").fail_here("unsupported model type \"{}\" (dmascope reads BPE tokenizers only)", type);
  }
  if (const auto dropout = model.optional_member("dropout")) {
    if (!dropout->value().is_number()) dropout->fail_here("must be null or a number");
    if (dropout->value().get<double>() != 0.0) {
      dropout->fail_here("BPE dropout {} is not supported: it makes encoding random", dropout->value().get<double>());
    }
  }

  const JsonField vocab = model.member("vocab");
  vocab.require_object();
  bpe.vocab_.reserve(vocab.value().size());
  for (const auto& [token, id_value] : vocab.value().items()) {
    const std::int32_t id =
        JsonField(id_value, model.source(), fmt::format("{}[\"{}\"]", vocab.path(), token)).as_token_id();
    bpe.vocab_.emplace(token, id);
    bpe.token_of_id_.emplace(id, token);  // with duplicate ids the first token (in key order) names the id
    bpe.max_id_ = std::max(bpe.max_id_, id);
  }

  if (const auto unk = model.optional_member("unk_token")) bpe.unk_token_ = unk->as_string();
  bpe.continuing_subword_prefix_ = model.string_or("continuing_subword_prefix", "");
  bpe.end_of_word_suffix_ = model.string_or("end_of_word_suffix", "");
  bpe.fuse_unk_ = model.bool_or("fuse_unk", false);
  bpe.byte_fallback_ = model.bool_or("byte_fallback", false);
  bpe.ignore_merges_ = model.bool_or("ignore_merges", false);
  for (int byte = 0; byte < 256; ++byte) {
    const auto id = bpe.token_to_id(fmt::format("<0x{:02X}>", byte));
    bpe.byte_fallback_ids_[byte] = id.value_or(-1);
  }

  // Merges come as "left right" strings (older files) or [left, right] pairs; their order is their rank.
  const JsonField merges = model.member("merges");
  merges.require_array();
  bpe.merges_.reserve(merges.value().size());
  const std::size_t prefix_length = bpe.continuing_subword_prefix_.size();
  for (std::size_t rank = 0; rank < merges.value().size(); ++rank) {
    const JsonField merge = merges.element(rank);
    std::string left, right;
    if (merge.value().is_string()) {
      const std::string line = merge.as_string();
      const std::size_t space = line.find(' ');
      if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
        merge.fail_here("\"{}\" is not two tokens separated by one space", line);
      }
      left = line.substr(0, space);
      right = line.substr(space + 1);
    } else if (merge.value().is_array() && merge.value().size() == 2) {
      left = merge.element(0).as_string();
      right = merge.element(1).as_string();
    } else {
      merge.fail_here("must be a \"left right\" string or a [left, right] pair, got {}", json_kind(merge.value()));
    }
    // The merged token drops the right side's continuing-subword prefix ("##"): "a" + "##b" -> "ab".
    if (right.size() < prefix_length) {
      merge.fail_here("right token \"{}\" is shorter than the continuing_subword_prefix", right);
    }
    const std::string merged = left + right.substr(prefix_length);
    auto id_in_vocab = [&](const std::string& token) {
      const auto id = bpe.token_to_id(token);
      if (!id) merge.fail_here("token \"{}\" is not in model.vocab", token);
      return *id;
    };
    const std::int32_t left_id = id_in_vocab(left);
    const std::int32_t right_id = id_in_vocab(right);
    const std::int32_t merged_id = id_in_vocab(merged);
    // A pair listed twice keeps its later rank, as the library's map insertion does.
    bpe.merges_[pair_key(left_id, right_id)] = Merge{static_cast<std::int32_t>(rank), merged_id};
  }
  bpe.cache_ = std::make_shared<WordCache>();
  return bpe;
}

std::optional<std::int32_t> BpeModel::token_to_id(std::string_view token) const {
  const auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::id_to_token(std::int32_t id) const {
  const auto it = token_of_id_.find(id);
  return it == token_of_id_.end() ? nullptr : &it->second;
}

const BpeModel::Merge* BpeModel::find_merge(std::int32_t left, std::int32_t right) const {
  const auto it = merges_.find(pair_key(left, right));
  return it == merges_.end() ? nullptr : &it->second;
}

void BpeModel::tokenize(std::string_view word, std::vector<std::int32_t>& ids) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (const auto id = token_to_id(word)) {
      ids.push_back(*id);
      return;
    }
  }
  const bool cacheable = word.size() < WordCache::kMaxWordBytes;
  if (cacheable) {
    std::lock_guard lock(cache_->mutex);
    const auto it = cache_->ids_of_word.find(word);
    if (it != cache_->ids_of_word.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<std::int32_t> word_ids = merge_word(word);
  ids.insert(ids.end(), word_ids.begin(), word_ids.end());
  if (cacheable) {
    std::lock_guard lock(cache_->mutex);
    if (cache_->ids_of_word.size() < WordCache::kMaxWords) cache_->ids_of_word.emplace(word, std::move(word_ids));
  }
}

std::vector<std::int32_t> BpeModel::merge_word(std::string_view word) const {
  // 1. One symbol per character; a character the vocab lacks becomes its <0xXX> byte tokens (byte_fallback) or the
  //    unk token (runs of unknowns fused into one with fuse_unk), or is dropped when there is no unk token. The
  //    order of these rules, including a pending unk that waits past byte-fallback symbols, is the library's.
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  auto add_symbol = [&symbols](std::int32_t id) {
    const auto position = static_cast<std::ptrdiff_t>(symbols.size());
    if (!symbols.empty()) symbols.back().next = position;
    symbols.push_back(Symbol{id, position - 1, -1});
  };
  bool unk_pending = false;
  std::string piece;
  std::size_t offset = 0;
  while (offset < word.size()) {
    const std::size_t start = offset;
    offset += utf8_length(static_cast<unsigned char>(word[offset]));
    piece.clear();
    if (start != 0) piece += continuing_subword_prefix_;
    piece.append(word.substr(start, offset - start));
    if (offset >= word.size()) piece += end_of_word_suffix_;

    if (const auto id = token_to_id(piece)) {
      if (unk_pending) add_symbol(*token_to_id(*unk_token_));
      unk_pending = false;
      add_symbol(*id);
      continue;
    }
    if (byte_fallback_) {
      bool all_bytes_known = true;
      for (const char byte : piece)
        all_bytes_known = all_bytes_known && byte_fallback_ids_[static_cast<unsigned char>(byte)] >= 0;
      if (all_bytes_known) {
        for (const char byte : piece) add_symbol(byte_fallback_ids_[static_cast<unsigned char>(byte)]);
        continue;
      }
    }
    if (unk_token_) {
      const auto unk_id = token_to_id(*unk_token_);
      if (!unk_id) fail("{}: field 'model.unk_token': \"{}\" is not in model.vocab", source_, *unk_token_);
      if (unk_pending && !fuse_unk_) add_symbol(*unk_id);
      unk_pending = true;
    }
  }
  if (unk_pending) add_symbol(*token_to_id(*unk_token_));

  // 2. Apply merges, always the lowest-ranked pair present first (leftmost among equals). Queue entries go stale
  //    when a neighbour merges first; they are recognised and skipped when popped.
  std::priority_queue<QueuedMerge, std::vector<QueuedMerge>, std::greater<>> queue;
  for (std::size_t i = 0; i + 1 < symbols.size(); ++i) {
    if (const Merge* merge = find_merge(symbols[i].id, symbols[i + 1].id)) {
      queue.push({merge->rank, i, merge->merged_id});
    }
  }
  while (!queue.empty()) {
    const QueuedMerge top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.position];
    if (left.merged_away || left.next < 0) continue;
    const auto right_position = static_cast<std::size_t>(left.next);
    const Merge* current = find_merge(left.id, symbols[right_position].id);
    if (!current || current->merged_id != top.merged_id) continue;  // stale: the pair changed since it was queued

    left.id = top.merged_id;
    symbols[right_position].merged_away = true;
    left.next = symbols[right_position].next;
    if (left.next >= 0)
      symbols[static_cast<std::size_t>(left.next)].previous = static_cast<std::ptrdiff_t>(top.position);
    if (left.previous >= 0) {
      const auto previous_position = static_cast<std::size_t>(left.previous);
      if (const Merge* merge = find_merge(symbols[previous_position].id, left.id)) {
        queue.push({merge->rank, previous_position, merge->merged_id});
      }
    }
    if (left.next >= 0) {
      if (const Merge* merge = find_merge(left.id, symbols[static_cast<std::size_t>(left.next)].id)) {
        queue.push({merge->rank, top.position, merge->merged_id});
      }
    }
  }

  std::vector<std::int32_t> ids;
  for (const Symbol& symbol : symbols) {
    if (!symbol.merged_away) ids.push_back(symbol.id);
  }
  return ids;
}

}  // namespace dmascope::tokenizer_detail
