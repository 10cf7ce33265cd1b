// The mask strategies the lab compares with dense attention on the same q, k, v and β, each at the same budget w
// (the number of keys a query row may keep — nsa's local block aside; rows with i + 1 ≤ w keep their whole causal
// prefix, except shared, whose one top-w set is fixed for all rows):
//   dma     per row the top w keys by β (transformers' semantics, the checkpoints'), core/mask/dma_mask.h
//   shared  flash-sparse-attn's shared top-k: one top-w set by β over all keys, then causal
//   swa     sliding window: keys i − w + 1 … i (w keys including the row itself)
//   sinks   keys 0 … 3 plus the w − 4 most recent (StreamingLLM); for w ≤ 4 the first w − 1 keys and the row itself
//   oracle  per row the top w keys by s_ij = q_i·k_j/√d + β_j: the best any selection of w keys can do
//   nsa     NSA-like: 64-key blocks scored by q_i·mean(k of the block)/√d; the best ⌊w/64⌋ earlier blocks plus the
//           row's own (local) block, so up to w + 64 keys (block side min(64, w); the local block is NSA's
//           sliding-window branch, counted in the budget's overshoot rather than cutting a selected block)
//   dam     DAM (arXiv 2506.11104), calibrated offline (core/lab/dam.h): a static per-(layer, head) mask. It has no
//           budget of its own: w does not apply and its density is what the calibration gives
// Every top-k here breaks ties towards the lower key index.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dmascope {

enum class Strategy : std::uint8_t { Dma, Shared, Swa, Sinks, Oracle, Nsa, Dam };

inline constexpr std::array<Strategy, 7> kAllStrategies = {Strategy::Dma,    Strategy::Shared, Strategy::Swa,
                                                           Strategy::Sinks,  Strategy::Oracle, Strategy::Nsa,
                                                           Strategy::Dam};

// Attention sinks kept by `sinks` (StreamingLLM's four initial tokens).
inline constexpr std::int64_t kSinkKeys = 4;
// Keys per block of `nsa` (NSA's selection block l' = 64).
inline constexpr std::int64_t kNsaBlockKeys = 64;

std::string_view strategy_name(Strategy strategy);  // "dma", "shared", "swa", "sinks", "oracle", "nsa", "dam"
// Error naming the unknown name and listing the known ones.
Strategy strategy_from_name(std::string_view name);
// "dma,swa,oracle" → strategies in the given order; Error for an unknown or repeated name or an empty list.
std::vector<Strategy> parse_strategy_list(std::string_view list);
// "dma,shared,swa,sinks,oracle,nsa,dam"
std::string all_strategy_names();

// Whether the strategy needs the query and key vectors to choose its keys (else β or positions suffice).
bool strategy_reads_scores(Strategy strategy);

}  // namespace dmascope
