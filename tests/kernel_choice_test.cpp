#include <gtest/gtest.h>

#include <string>

#include "core/attention/kernel_choice.h"
#include "core/base/error.h"

namespace dmascope {
namespace {

std::string parse_error(std::string_view spec) {
  try {
    parse_kernel_choice(spec);
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(KernelChoice, EmptyAndDefaultSpecsGiveTheDefaults) {
  const KernelChoice defaults;
  EXPECT_EQ(defaults.forward, ForwardKernelChoice::Auto);
  EXPECT_EQ(defaults.keys, KeyLoadChoice::Async);
  EXPECT_EQ(defaults.heads_per_cta, 0);
  EXPECT_TRUE(defaults.fused_lists);
  EXPECT_TRUE(defaults.pdl);
  EXPECT_EQ(defaults.mask_build, MaskBuildChoice::Auto);
  EXPECT_EQ(defaults.gather_lists, GatherListChoice::Auto);
  EXPECT_EQ(defaults.scores, ScoreRounding::Fp32);
  EXPECT_EQ(parse_kernel_choice(""), defaults);
  EXPECT_EQ(parse_kernel_choice("default"), defaults);
  EXPECT_EQ(kernel_choice_name(defaults), "default");
}

TEST(KernelChoice, ParsesEveryItem) {
  const KernelChoice c = parse_kernel_choice(
      "forward=mma,keys=sync,heads-per-cta=1,fused-lists=off,pdl=off,mask-build=sort,gather-lists=scan,"
      "scores=input");
  EXPECT_EQ(c.forward, ForwardKernelChoice::Mma);
  EXPECT_EQ(c.keys, KeyLoadChoice::Sync);
  EXPECT_EQ(c.heads_per_cta, 1);
  EXPECT_FALSE(c.fused_lists);
  EXPECT_FALSE(c.pdl);
  EXPECT_EQ(c.mask_build, MaskBuildChoice::Sort);
  EXPECT_EQ(c.gather_lists, GatherListChoice::Scan);
  EXPECT_EQ(c.scores, ScoreRounding::Input);
  EXPECT_EQ(parse_kernel_choice("forward=wgmma").forward, ForwardKernelChoice::Wgmma);
  EXPECT_EQ(parse_kernel_choice("heads-per-cta=4").heads_per_cta, 4);
  EXPECT_EQ(parse_kernel_choice(" heads-per-cta = 2 , pdl=on ").heads_per_cta, 2);  // spaces around items are fine
}

TEST(KernelChoice, NameListsOnlyTheNonDefaultItemsAndRoundTrips) {
  KernelChoice c;
  c.forward = ForwardKernelChoice::Mma;
  c.fused_lists = false;
  EXPECT_EQ(kernel_choice_name(c), "forward=mma,fused-lists=off");
  const std::string all =
      "forward=wgmma,keys=sync,heads-per-cta=2,fused-lists=off,pdl=off,mask-build=sort,gather-lists=scan,scores=input";
  EXPECT_EQ(kernel_choice_name(parse_kernel_choice(all)), all);
  for (const char* spec : {"keys=sync", "heads-per-cta=4", "pdl=off", "mask-build=sort", "gather-lists=scan", "scores=input"})
    EXPECT_EQ(kernel_choice_name(parse_kernel_choice(spec)), spec);
  // Given in another order, printed in the fixed one.
  EXPECT_EQ(kernel_choice_name(parse_kernel_choice("pdl=off,forward=mma")), "forward=mma,pdl=off");
}

TEST(KernelChoice, ErrorsNameTheBadItemAndTheValidValues) {
  EXPECT_EQ(parse_error("forward=cudnn"), "kernel choice: 'forward=cudnn' is not a valid value (valid: auto, wgmma, mma)");
  EXPECT_EQ(parse_error("heads-per-cta=3"), "kernel choice: 'heads-per-cta=3' is not a valid value (valid: auto, 1, 2, 4)");
  EXPECT_EQ(parse_error("pdl=0"), "kernel choice: 'pdl=0' is not a valid value (valid: on, off)");
  EXPECT_EQ(parse_error("warp=4"), "kernel choice: unknown item 'warp' (names: forward, keys, heads-per-cta, "
                                   "fused-lists, pdl, mask-build, gather-lists, scores)");
  EXPECT_EQ(parse_error("forward"), "kernel choice: item 'forward' is not name=value (names: forward, keys, "
                                    "heads-per-cta, fused-lists, pdl, mask-build, gather-lists, scores)");
  EXPECT_NE(parse_error("forward=mma,"), "(no error)");  // an empty item after a comma
  EXPECT_EQ(parse_error("pdl=off,pdl=on"), "kernel choice: item 'pdl' given twice");
}

}  // namespace
}  // namespace dmascope
