// The recent model folders list (engine/session/recent_models.h): add/dedupe/cap, the JSON round trip, files that are not
// ours giving an empty list with a message (never an exception), the atomic save, and the missing-folder reasons.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "engine/session/recent_models.h"

namespace dmascope::engine {
namespace {

namespace fs = std::filesystem;

fs::path scratch() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir = fs::temp_directory_path() / "dmascope-recent-tests" / info->name();
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::vector<std::string> names(const RecentModels& recent) {
  std::vector<std::string> out;
  for (const auto& dir : recent.dirs) out.push_back(dir.string());
  return out;
}

TEST(RecentModels, AddPutsTheFolderFirstAndMovesADuplicateInsteadOfRepeatingIt) {
  RecentModels recent;
  add_recent_model(recent, "/m/a");
  add_recent_model(recent, "/m/b");
  add_recent_model(recent, "/m/c");
  EXPECT_EQ(names(recent), (std::vector<std::string>{"/m/c", "/m/b", "/m/a"}));
  add_recent_model(recent, "/m/./a/");  // the same folder spelt differently
  EXPECT_EQ(names(recent), (std::vector<std::string>{"/m/a", "/m/c", "/m/b"}));
  add_recent_model(recent, "");
  EXPECT_EQ(recent.dirs.size(), 3u);
}

TEST(RecentModels, TheListKeepsOnlyTheTenMostRecent) {
  RecentModels recent;
  for (int n = 0; n < 15; ++n) add_recent_model(recent, "/m/" + std::to_string(n));
  ASSERT_EQ(recent.dirs.size(), kMaxRecentModels);
  EXPECT_EQ(recent.dirs.front(), "/m/14");
  EXPECT_EQ(recent.dirs.back(), "/m/5");
}

TEST(RecentModels, JsonRoundTripKeepsTheOrder) {
  RecentModels recent;
  for (const char* dir : {"/x/one", "/x/two", "/x/three"}) add_recent_model(recent, dir);
  const RecentModels back = parse_recent_models(recent_models_to_json(recent), "recent.json");
  EXPECT_TRUE(back.problem.empty()) << back.problem;
  EXPECT_EQ(names(back), names(recent));
}

TEST(RecentModels, AFileWithDuplicatesOrTooManyEntriesIsNormalisedOnRead) {
  std::string json = R"({"dmascope_recent_models": 1, "models": ["/a", "/b", "/a")";
  for (int n = 0; n < 12; ++n) json += ", \"/z/" + std::to_string(n) + "\"";
  json += "]}";
  const RecentModels recent = parse_recent_models(json, "recent.json");
  EXPECT_TRUE(recent.problem.empty()) << recent.problem;
  ASSERT_EQ(recent.dirs.size(), kMaxRecentModels);
  EXPECT_EQ(recent.dirs[0], "/a");
  EXPECT_EQ(recent.dirs[1], "/b");
  EXPECT_EQ(recent.dirs[2], "/z/0");
}

TEST(RecentModels, ParseErrorsGiveAnEmptyListAndAMessageNamingTheFile) {
  for (const char* text : {"", "not json", "[1, 2]", R"({"models": ["/a"]})",
                           R"({"dmascope_recent_models": 2, "models": []})",
                           R"({"dmascope_recent_models": 1, "models": "/a"})",
                           R"({"dmascope_recent_models": 1, "models": ["/a", 3]})",
                           R"({"dmascope_recent_models": 1, "models": [""]})", "{\"a\": \xff}"}) {
    RecentModels recent;
    ASSERT_NO_THROW(recent = parse_recent_models(text, "/cfg/recent.json")) << text;
    EXPECT_TRUE(recent.dirs.empty()) << text;
    EXPECT_NE(recent.problem.find("/cfg/recent.json"), std::string::npos) << text << " → " << recent.problem;
  }
}

TEST(RecentModels, SaveIsAtomicAndLoadReadsItBackAndAMissingFileIsSilentlyEmpty) {
  const fs::path dir = scratch();
  const fs::path file = dir / "cfg/dmascope/recent.json";
  EXPECT_TRUE(load_recent_models(file).dirs.empty());
  EXPECT_TRUE(load_recent_models(file).problem.empty());
  RecentModels recent;
  add_recent_model(recent, dir / "model-a");
  add_recent_model(recent, dir / "model-b");
  EXPECT_EQ(save_recent_models(file, recent), "");
  const RecentModels back = load_recent_models(file);
  EXPECT_EQ(names(back), names(recent));
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(file.parent_path())) ++files;
  EXPECT_EQ(files, 1u) << "no temporary file may be left behind";
  // A folder where the file should be: a message, not an exception.
  fs::create_directories(dir / "blocked/recent.json");
  EXPECT_NE(save_recent_models(dir / "blocked/recent.json", recent), "");
  EXPECT_FALSE(load_recent_models(dir / "blocked/recent.json").problem.empty());
}

TEST(RecentModels, TheFileLivesUnderXdgConfigHomeElseHomeDotConfig) {
  const char* old_config = std::getenv("XDG_CONFIG_HOME");
  const char* old_home = std::getenv("HOME");
  const std::string saved_config = old_config ? old_config : "", saved_home = old_home ? old_home : "";
  setenv("XDG_CONFIG_HOME", "/cfg", 1);
  EXPECT_EQ(recent_models_file(), fs::path("/cfg/dmascope/recent.json"));
  unsetenv("XDG_CONFIG_HOME");
  setenv("HOME", "/home/me", 1);
  EXPECT_EQ(recent_models_file(), fs::path("/home/me/.config/dmascope/recent.json"));
  if (old_config) setenv("XDG_CONFIG_HOME", saved_config.c_str(), 1);
  if (old_home) setenv("HOME", saved_home.c_str(), 1);
  else unsetenv("HOME");
}

TEST(RecentModels, MissingFoldersAreReportedWithAReason) {
  const fs::path dir = scratch();
  EXPECT_EQ(recent_model_problem(dir / "gone"), "folder not found");
  fs::create_directories(dir / "empty");
  EXPECT_EQ(recent_model_problem(dir / "empty"), "no config.json");
  std::ofstream(dir / "file.txt") << "x";
  EXPECT_EQ(recent_model_problem(dir / "file.txt"), "not a folder");
  fs::create_directories(dir / "model");
  std::ofstream(dir / "model/config.json") << "{}";
  EXPECT_EQ(recent_model_problem(dir / "model"), "");
}

}  // namespace
}  // namespace dmascope::engine
