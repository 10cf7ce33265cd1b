// The subcommands of dmascope-cli; each returns the process exit code.
#pragma once

#include <string>
#include <vector>

namespace dmascope::cli {

int command_info(const std::vector<std::string>& args);
int command_tokenize(const std::vector<std::string>& args);
int command_dump(const std::vector<std::string>& args);
int command_forward(const std::vector<std::string>& args);
int command_make_model(const std::vector<std::string>& args);
int command_bench(const std::vector<std::string>& args);

}  // namespace dmascope::cli
