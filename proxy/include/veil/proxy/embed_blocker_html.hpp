// The HTML side of the EmbedBlocker (no Beast): which third party a URL or an inline script points
// at, and the streaming rewrite of one HTML body under one visitor's consent.
//
// For each third-party host whose category is not granted (hosts from the policy's `embeds:`):
//   <iframe src>                  → a click-to-load placeholder (embed_placeholder_html)
//   <script src>, inline scripts  → inert: type="text/plain", data-veil-category,
//   data-veil-provider <img>, <source>, <embed>, <object>, <link
//   rel=preconnect|dns-prefetch|stylesheet|preload| prefetch|modulepreload|icon>  → removed (start
//   tag only: an <object>'s fallback content stays)
// There is no client-side loader that revives the inert scripts: after the visitor consents, the
// next page is served unblocked by the proxy itself.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "veil/policies/decisions.hpp"
#include "veil/policies/policy.hpp"
#include "veil/proxy/html_rewriter.hpp"

namespace veil::proxy {

// The host a browser would contact for `url` (an attribute value, already entity-decoded): lower
// case, without userinfo, port, trailing dot or percent-escapes; for absolute http(s) URLs and
// protocol-relative `//host` ones. nullopt for relative URLs and other schemes (data:, blob:,
// javascript:), which stay on the page's own origin.
std::optional<std::string> url_host(std::string_view url);

// The first embed rule of a category not in `granted` that an inline script refers to: by a host
// name in its text (`https://www.googletagmanager.com/gtm.js`, `'.google-analytics.com/ga.js'`)
// or by a call of a well-known tag (`gtag(` for Google's tag, `fbq(` for the Meta Pixel), each
// looked up in the policy like a host. nullptr when it refers to none.
const policies::EmbedRule* inline_script_rule(const policies::Policy& policy,
                                              std::string_view content,
                                              policies::CategorySet granted);

// One HTML body rewritten under one consent. With `enforce` false nothing is changed (report-only
// mode): blocked embeds are only reported to `on_blocked`, and the banner is not inserted.
class EmbedHtmlRewrite {
 public:
  using OnBlocked = std::function<void(const policies::EmbedRule&, HtmlTag)>;
  struct Settings {
    std::shared_ptr<const policies::Policy> policy;
    policies::CategorySet granted;
    bool enforce = true;
    std::string return_path;  // the page's own target, for the placeholders' forms
    std::string banner_html;  // placed right after <body>; empty: none
  };

  EmbedHtmlRewrite(Settings settings, OnBlocked on_blocked);

  void write(std::string_view chunk, std::string& out) { rewriter_.write(chunk, out); }
  void end(std::string& out) { rewriter_.end(out); }
  // Report-only callers pass the original bytes on themselves: the same scan and reports as
  // write() and end(), without producing a copy (HtmlRewriter::scan).
  void scan(std::string_view chunk) { rewriter_.scan(chunk); }
  void end_scan() { rewriter_.end_scan(); }
  HtmlBailout bailout() const { return rewriter_.bailout(); }

 private:
  void handle(HtmlElement& element);
  const policies::EmbedRule* blocked_rule(std::optional<std::string_view> url) const;
  const policies::EmbedRule* blocked_srcset_rule(std::optional<std::string_view> srcset) const;

  Settings settings_;
  OnBlocked on_blocked_;
  HtmlRewriter rewriter_;
};

}  // namespace veil::proxy
