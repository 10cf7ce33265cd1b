// Where the app finds the data it ships with (engine/session/bundled_assets.h): next to an installed binary in
// ../share/dmascope, else in the source tree's assets/ (a build tree). The install itself, moved to another folder, is
// tested by build.install_layout (tests/cmake/install_layout.cmake).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "engine/session/bundled_assets.h"
#include "engine/session/model_discovery.h"
#include "tests/test_paths.h"

namespace {

namespace fs = std::filesystem;
using dmascope::engine::bundled_assets_dir;
using dmascope::engine::installed_assets_dir;

TEST(EngineBundledAssets, AnInstalledBinaryFindsShareDmascopeBesideItsBinFolder) {
  const fs::path prefix = dmascope::testing::scratch_dir() / "moved-prefix";
  fs::create_directories(prefix / "bin");
  fs::create_directories(prefix / "share/dmascope/models");
  EXPECT_EQ(installed_assets_dir(prefix / "bin/dmascope"), prefix / "share/dmascope");
}

TEST(EngineBundledAssets, AShareFolderWithoutModelsIsNotAnInstall) {
  const fs::path prefix = dmascope::testing::scratch_dir() / "prefix";
  fs::create_directories(prefix / "bin");
  EXPECT_TRUE(installed_assets_dir(prefix / "bin/dmascope").empty()) << "no share/dmascope at all";
  fs::create_directories(prefix / "share/dmascope/tours");
  EXPECT_TRUE(installed_assets_dir(prefix / "bin/dmascope").empty()) << "share/dmascope without models/";
}

TEST(EngineBundledAssets, ABuildTreeReadsTheSourceTreesAssets) {
  // This test binary lives in the build tree, which has no share/dmascope beside its folders.
  const fs::path source_assets = fs::path(DMASCOPE_SOURCE_DIR) / "assets";
  EXPECT_EQ(bundled_assets_dir(), source_assets);
  EXPECT_TRUE(fs::exists(dmascope::engine::bundled_tour()));
  EXPECT_TRUE(fs::exists(dmascope::engine::bundled_recall_table()));
  EXPECT_TRUE(fs::exists(dmascope::engine::first_launch_model() / "config.json"));
  const char* override_dir = std::getenv("DMASCOPE_DEFAULT_MODEL");
  if (!override_dir || !*override_dir)
    EXPECT_EQ(dmascope::engine::bundled_default_model(), source_assets / "models/doge-tiny-random");
}

}  // namespace
