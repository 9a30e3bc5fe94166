// Subcommands of the `veil` binary. Each lives in its own <name>_command.cpp and registers itself
// with a file-scope CommandRegistration, so adding a subcommand never touches main.cpp.
#pragma once

#include <string_view>

namespace veil::app {

// Runs a subcommand. argv[0] is the subcommand's name. Returns the process exit code:
// 0 success, 1 runtime failure, 2 usage error.
using CommandMain = int (*)(int argc, char** argv);

struct Command {
  std::string_view name;
  std::string_view summary;
  CommandMain run;
};

struct CommandRegistration {
  CommandRegistration(std::string_view name, std::string_view summary, CommandMain run);
};

}  // namespace veil::app
