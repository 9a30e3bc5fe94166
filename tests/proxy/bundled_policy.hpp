// The policies shipped in the repository's policies/ folder, for the filter tests.
#pragma once

#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <string>

#include "veil/policies/loader.hpp"

namespace veil::proxy::test {

// A file of policies/, e.g. "council-default.yaml", loaded once per test program (policies are
// immutable once loaded).
inline std::shared_ptr<const policies::Policy> bundled_policy(const std::string& name) {
  static std::map<std::string, std::shared_ptr<const policies::Policy>> loaded;
  auto& policy = loaded[name];
  if (!policy) {
    policy = policies::load_policy(std::string(VEIL_SOURCE_DIR) + "/policies/" + name).policy;
  }
  REQUIRE(policy != nullptr);
  return policy;
}

}  // namespace veil::proxy::test
