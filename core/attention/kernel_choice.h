// Which CUDA kernels a DmaRunner launches, as a value: the defaults are what runs best on an H200; the other values
// exist for same-run comparisons (bench --kernel) and to keep every kernel tested on one GPU. Plain C++ (no CUDA), so
// that the CLI, the tests and core can name a choice without the kernels.
#pragma once

#include <string>
#include <string_view>

namespace dmascope {

// The forward attention kernel: Auto runs wgmma on a compute capability 9.0 GPU and mma.sync elsewhere; Wgmma asks
// for the former (a runner fails where it cannot run); Mma runs mma.sync everywhere.
enum class ForwardKernelChoice { Auto, Wgmma, Mma };
// How the forward loads each key block's indices, β and death: Async a block ahead (measured 30 % faster at d128 on
// an NVIDIA H200), Sync at the block's start (the earlier kernel).
enum class KeyLoadChoice { Async, Sync };
// How the mask build computes death indices: Auto takes the chunked build where it applies, Sort always takes the
// general radix-sort path.
enum class MaskBuildChoice { Auto, Sort };
// How the gather lists are built: Auto takes the chunked kernel where the lists' capacity allows it, Scan always takes
// the O(L)-per-tile scan.
enum class GatherListChoice { Auto, Scan };
// How the forward forms each score s = q·k·scale + β before the softmax: Fp32 in one fused multiply-add (the fastest,
// and the closest to exact), or Input the way transformers' eager attention does in a bf16 (fp16) model: q·kᵀ
// rounded to the input type, ×scale rounded, + β rounded. The bf16 model forward uses Input, so that its
// activations, and so each later layer's β and mask, follow transformers' bf16 forward step by step.
enum class ScoreRounding { Fp32, Input };

struct KernelChoice {
  ForwardKernelChoice forward = ForwardKernelChoice::Auto;
  KeyLoadChoice keys = KeyLoadChoice::Async;
  // At most this many query heads of a GQA group per forward CTA: 0 = as many as the kernel and the group allow
  // (up to 4 for wgmma, 2 for mma.sync); 1, 2 or 4 cap it.
  int heads_per_cta = 0;
  // Where the chunked mask build runs and the wgmma forward reads its chunk keys, no separate gather-list launch;
  // false always launches the gather lists.
  bool fused_lists = true;
  // The forward launched as the mask build's programmatic dependent (PDL) on the chunk-key path.
  bool pdl = true;
  MaskBuildChoice mask_build = MaskBuildChoice::Auto;
  GatherListChoice gather_lists = GatherListChoice::Auto;
  ScoreRounding scores = ScoreRounding::Fp32;

  bool operator==(const KernelChoice&) const = default;
};

// Reads a comma list of name=value items, e.g. "forward=mma,keys=sync,heads-per-cta=1,fused-lists=off,pdl=off,
// mask-build=sort,gather-lists=scan,scores=input"; items left out keep their defaults, "" and "default" are all defaults. Throws
// dmascope::Error naming the bad item and the valid values.
KernelChoice parse_kernel_choice(std::string_view spec);
// The items that differ from the defaults, in parse_kernel_choice's syntax and a fixed order, or "default":
// parse_kernel_choice(kernel_choice_name(c)) == c.
std::string kernel_choice_name(const KernelChoice& choice);

}  // namespace dmascope
