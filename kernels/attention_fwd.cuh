// The forward attention kernel (kernels/attention_fwd.cu): one template for DMA (gathered keys) and dense causal
// attention, bf16/fp16, head dims 64 and 128.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "core/attention/tile_sizes.h"

namespace dmascope::cuda::detail {

// The forward's counters of its own work (KernelCounters, core/attention/kernel_counters.h), written only by
// instrumented runs: all null = off (the plain, timed run), which costs two uniform branches per CTA. The kernel adds
// the kept entries of the keys it gathered to kept_entries (zeroed before the launch) and writes, per query head and
// tile, the keys it gathered and the (row, key) pairs it computed. One CTA per bias head and tile adds the kept
// entries.
struct ForwardCounters {
  std::int32_t* keys_gathered = nullptr;   // [B·Hq, q_tiles]
  long long* executed_pairs = nullptr;     // [B·Hq, q_tiles]
  std::int32_t* kept_entries = nullptr;    // [B·Hb, q_tiles, k_tiles]
  int k_tiles = 0;
  // The wgmma kernel counts a tile's kept entries in a shared-memory histogram of k_tiles entries past its own shared
  // memory, and stores the whole row once (no global atomics), where that fits the device; the launcher clears this
  // where it does not, and the mma.sync kernel always adds with global atomics.
  bool shared_histogram = true;
};

// The head dim whose wgmma kernel reads β in log2 units (ForwardParams::beta_log2) and, from the chunk keys, each key's
// death from its chunk entry. Not at d128: there the extra code spills registers in the kernel of four heads, and the
// multiply per key is a smaller share of the time.
constexpr int kChunkFedDim = 64;

struct ForwardParams {
  const void* q;  // [B, Hq, Lq, d]
  const void* k;  // [B, Hkv, Lk, d]
  const void* v;  // [B, Hkv, Lk, d]
  const float* beta;           // [B, Hb, Lk] or null
  const std::int32_t* death;   // [B, Hb, Lk] or null (dense)
  const std::int32_t* lists;   // [B·Hb, q_tiles, capacity] gathered key indices (DMA only)
  std::int32_t* counts;        // [B·Hb, q_tiles] (written by the forward when it reads chunk_keys)
  // Instead of lists (wgmma kernel only, (Lk − Lq) % 64 == 0): the chunked mask build's chunk keys
  // (kernels/mask_build.cuh), which each CTA filters into its own list; it then writes counts (the keys it gathered).
  const std::uint32_t* chunk_keys = nullptr;       // [B·Hb, chunks, chunk_capacity] or null
  const std::int32_t* chunk_key_counts = nullptr;  // [B·Hb, chunks]
  int chunks = 0, chunk_capacity = 0;
  void* out;                   // [B, Hq, Lq, d]
  long long* cta_nanoseconds;  // [B·Hq, q_tiles] or null: per-CTA durations (instrumentation)
  ForwardCounters counters;    // instrumentation: the kernel's account of its work (null pointers: off)
  int batch, q_heads, kv_heads, bias_heads, q_len, key_len, head_dim;
  int q_tiles, capacity;
  float scale;  // 1/√d
  bool f16;     // inputs are fp16 (else bf16)
  int heads_per_cta = 0;  // 0: automatic (2 when an even GQA group allows it); 1: force one head per CTA
  // true (default): key index/β/death loads issued a block ahead (AsyncKeys in attention_fwd.cu; forward −30 % at
  // d128 on an NVIDIA H200, bench/h200/README.md); false: the earlier kernel (KernelChoice keys=sync).
  bool async_key_loads = true;
  // true (default): on a compute capability 9.0 GPU, the wgmma kernel (attention_fwd_sm90a.cu); false, or any other
  // GPU: the mma.sync kernel. KernelChoice forward=mma forces the latter, for same-run comparisons.
  bool wgmma = true;
  // The wgmma kernel launched as a programmatic dependent (PDL) of the kernel before it in the stream, which must be
  // the chunked mask build (it lets dependents launch at its start): the CTAs initialize and load Q while it runs,
  // then wait for it (griddepcontrol.wait) before reading its outputs. Set by DmaRunner for the chunk-key path
  // (unless KernelChoice pdl=off).
  bool programmatic = false;
  // Scores rounded as transformers' eager attention forms them in the input type (KernelChoice scores=input):
  // round(round(round(q·k)·scale) + β), then the fp32 softmax.
  bool round_scores = false;
  // beta holds β already in the softmax's log2 units (beta_in_log2_units, as the chunked mask build writes it with
  // ChunkKeysOutput::beta_log2): the wgmma kernel then forms each score by one FFMA. Head dim kChunkFedDim only, not
  // with round_scores (those take β itself); the mma.sync kernel does not read it. The launcher refuses the rest.
  bool beta_log2 = false;
};

void launch_attention_forward(const ForwardParams& params, bool gathered, cudaStream_t stream);
// The wgmma kernel: launches and returns true where attention_forward_sm90a_applies (a compute capability 9.0 GPU,
// head dims 64 and 128), else returns false without launching.
bool attention_forward_sm90a_applies(const ForwardParams& params);
bool launch_attention_forward_sm90a(const ForwardParams& params, bool gathered, cudaStream_t stream);
// Whether an instrumented launch of these parameters (counters.k_tiles set) stores every kept-entry counter row whole
// (the wgmma kernel with its shared histogram): then nothing needs zeroing before it.
bool sm90a_counts_whole_rows(const ForwardParams& params, bool gathered);
// Whether the kernel launch_attention_forward runs for these parameters reads chunk_keys (the wgmma kernel does).
bool attention_forward_uses_chunk_keys(const ForwardParams& params);
// The kernel launch_attention_forward runs for these parameters on the current GPU: "wgmma" or "mma.sync".
const char* attention_forward_kernel_name(const ForwardParams& params);

}  // namespace dmascope::cuda::detail
