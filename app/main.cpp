// The `veil` binary: dispatches to the registered subcommands.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <vector>

#include "command.hpp"

namespace veil::app {
namespace {

std::vector<Command>& registry() {
  static std::vector<Command> commands;
  return commands;
}

void print_usage(std::FILE* out) {
  std::fprintf(out,
               "veil %s: a privacy edge for council websites\n\n"
               "Usage: veil <command> [options]\n\nCommands:\n",
               VEIL_VERSION);
  auto commands = registry();
  std::sort(commands.begin(), commands.end(),
            [](const Command& a, const Command& b) { return a.name < b.name; });
  for (const auto& command : commands) {
    std::fprintf(out, "  %-12.*s %.*s\n", static_cast<int>(command.name.size()),
                 command.name.data(), static_cast<int>(command.summary.size()),
                 command.summary.data());
  }
  std::fprintf(out, "\nRun 'veil <command> --help' for a command's options.\n");
}

}  // namespace

CommandRegistration::CommandRegistration(std::string_view name, std::string_view summary,
                                         CommandMain run) {
  registry().push_back(Command{name, summary, run});
}

}  // namespace veil::app

int main(int argc, char** argv) {
  using namespace veil::app;
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  std::string_view first = argv[1];
  if (first == "--help" || first == "-h" || first == "help") {
    print_usage(stdout);
    return 0;
  }
  if (first == "--version" || first == "-V") {
    std::printf("veil %s\n", VEIL_VERSION);
    return 0;
  }
  for (const auto& command : registry()) {
    if (command.name == first) return command.run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "veil: unknown command '%s'\n\n", argv[1]);
  print_usage(stderr);
  return 2;
}
