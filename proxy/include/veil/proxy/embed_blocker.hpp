// The EmbedBlocker filter: rewrites `text/html` response bodies as they stream
// (embed_blocker_html.hpp): blocked third-party embeds become placeholders or inert, and the
// consent banner (or the confirmation, once) goes right after `<body>`.
//
// Encodings: the origin is asked for `gzip` (when the client accepts it) or `identity` only; a gzip
// body is decoded, rewritten and re-encoded for a client that accepts gzip (sent identity
// otherwise). A body in any other encoding is not rewritten (counted as a bail-out; the CSP still
// holds). A rewritten response loses Content-Length (the core sends it chunked), its ETag becomes
// weak, and it is marked personalised (Cache-Control: private, Vary: Cookie).
//
// Report-only mode changes no byte and no header: the body is still scanned (decoded when gzip) to
// count what would have been blocked.
//
// Metrics: veil_embeds_blocked_total{provider,category,mode} and
// veil_html_rewrite_bailouts_total{reason}.
#pragma once

#include <memory>

#include "veil/proxy/consent_filter.hpp"
#include "veil/proxy/filter.hpp"
#include "veil/proxy/metrics.hpp"

namespace veil::proxy {

class EmbedBlocker final : public Filter {
 public:
  // `consent` and `registry` must outlive this filter; `consent` runs before it in the chain.
  EmbedBlocker(const ConsentFilter& consent, MetricsRegistry& registry);

  void on_request(Exchange& exchange) override;
  void on_response_head(Exchange& exchange) override;
  std::unique_ptr<BodyTransform> response_body_transform(Exchange& exchange) override;

  ~EmbedBlocker() override;

  struct Counters;

 private:
  struct Banners;  // the banner per (policy snapshot, consent), built once
  const ConsentFilter& consent_;
  std::shared_ptr<Counters> counters_;
  std::unique_ptr<Banners> banners_;
};

}  // namespace veil::proxy
