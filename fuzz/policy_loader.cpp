// libFuzzer target: the policy loader on arbitrary text (YAML parsing, validation, compilation).
// Invariants: it never throws; a policy comes back exactly when no error was reported; every
// diagnostic names the file, and a failed load carries at least one error with a line and column
// inside the text, printed as "file:line:col: error: ...".
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "veil/policies/loader.hpp"

using namespace veil::policies;

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

constexpr std::string_view kName = "fuzz.yaml";

// Relative file names in a policy (TLS files, key file, logs) resolve here: a directory that does
// not exist, so that no input reads or creates a file by a relative name.
constexpr std::string_view kBaseDirectory = "/nonexistent/veil-fuzz";

int line_count(std::string_view text) {
  return 1 + static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

bool positioned_error(const Diagnostic& diagnostic, int lines) {
  return diagnostic.severity == Diagnostic::Severity::error && diagnostic.line >= 1 &&
         diagnostic.line <= lines && diagnostic.column >= 1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const LoadResult result =
      load_policy_from_string(text, std::string(kName), std::string(kBaseDirectory));

  bool has_error = false;
  for (const Diagnostic& diagnostic : result.diagnostics) {
    require(diagnostic.file == kName);
    require(!diagnostic.message.empty());
    require(to_string(diagnostic).starts_with(std::string(kName) + ":"));
    has_error = has_error || diagnostic.severity == Diagnostic::Severity::error;
  }
  require(result.ok() == !has_error);
  if (!result.ok()) {
    const int lines = line_count(text);
    const auto positioned = std::find_if(
        result.diagnostics.begin(), result.diagnostics.end(),
        [&](const Diagnostic& diagnostic) { return positioned_error(diagnostic, lines); });
    require(positioned != result.diagnostics.end());
    const std::string expected_prefix = std::string(kName) + ":" +
                                        std::to_string(positioned->line) + ":" +
                                        std::to_string(positioned->column) + ": error: ";
    require(to_string(*positioned).starts_with(expected_prefix));
  }
  return 0;
}
