// Values derived from a (policy snapshot, consent) pair that many responses share, such as the CSP
// and the banner markup: built once and reused. Few distinct consents occur (no decision, all,
// none, a few mixes), so a short list searched linearly is enough; a new policy snapshot empties
// it. Thread-safe: the proxy's threads share one filter.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "veil/policies/policy.hpp"

namespace veil::proxy {

template <class Key, class Value>
class ConsentCache {
 public:
  // The value for `key` under `policy`, built with `build()` the first time.
  template <class Build>
  std::shared_ptr<const Value> get(const std::shared_ptr<const policies::Policy>& policy,
                                   const Key& key, Build&& build) {
    const std::lock_guard lock(mutex_);
    if (policy != policy_) {
      entries_.clear();
      policy_ = policy;
    }
    for (const auto& [cached_key, value] : entries_) {
      if (cached_key == key) return value;
    }
    if (entries_.size() >= kMaxEntries) entries_.erase(entries_.begin());
    return entries_.emplace_back(key, std::make_shared<const Value>(build())).second;
  }

 private:
  static constexpr std::size_t kMaxEntries = 64;
  std::mutex mutex_;
  std::shared_ptr<const policies::Policy> policy_;
  std::vector<std::pair<Key, std::shared_ptr<const Value>>> entries_;
};

}  // namespace veil::proxy
