// `veil policy check|explain|test`: the security team's tools for the policy file.
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "command.hpp"
#include "veil/policies/loader.hpp"

namespace veil::app {
namespace {

using policies::Diagnostic;

constexpr const char* kUsage =
    "Usage:\n"
    "  veil policy check FILE...\n"
    "      Checks policy files; prints every problem as file:line:col: error|warning: ...\n"
    "      Exit 0 when every file is valid (warnings allowed), 1 otherwise.\n";

void print_diagnostics(const std::vector<Diagnostic>& diagnostics) {
  for (const auto& diagnostic : diagnostics) {
    std::fprintf(stderr, "%s\n", policies::to_string(diagnostic).c_str());
  }
}

int run_check(const std::vector<std::string>& files) {
  if (files.empty()) {
    std::fprintf(stderr, "veil policy check: no policy file given\n%s", kUsage);
    return 2;
  }
  int status = 0;
  for (const auto& file : files) {
    auto result = policies::load_policy(file);
    print_diagnostics(result.diagnostics);
    if (!result.ok()) {
      status = 1;
      continue;
    }
    const auto& policy = *result.policy;
    std::printf("%s: valid (%zu cookie rules, %zu embed rules, %zu warnings)\n", file.c_str(),
                policy.cookies.rules.size(), policy.embeds.size(), result.diagnostics.size());
  }
  return status;
}

int policy_main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string_view action = argv[1];
  std::vector<std::string> arguments(argv + 2, argv + argc);
  if (action == "check") return run_check(arguments);
  std::fprintf(stderr, "veil policy: unknown action '%s'\n%s", argv[1], kUsage);
  return 2;
}

const CommandRegistration registration{"policy", "check, explain and test policy files",
                                       policy_main};

}  // namespace
}  // namespace veil::app
