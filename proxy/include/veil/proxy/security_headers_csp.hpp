// The Content-Security-Policy veil derives from a visitor's consent (no Beast; the SecurityHeaders
// filter sends it).
//
// CSP can only allow, never deny, so the policy lists what may load: 'self', and the hosts of the
// embed rules whose category is granted. The hosts of ungranted categories are absent, so an embed
// that escapes the HTML rewriter (added later by JavaScript, inside a bailed-out page, in a
// <noscript> or srcdoc) is still blocked by the browser. A third party the policy does not list is
// blocked too: unknown trackers fail closed, and an operator lists a site's own CDN in `embeds:`
// under an always-on category.
//
// Only where content comes from is restricted (script-src, frame-src, img-src, connect-src): the
// origin's own inline scripts keep working ('unsafe-inline'; a nonce would switch that off and
// break them), and style-src is left alone, so veil's inline banner styles need no allowance. An
// origin's own CSP is sent alongside, never edited: browsers enforce every policy they get, so
// adding one never weakens the origin's.
#pragma once

#include <string>

#include "veil/policies/decisions.hpp"
#include "veil/policies/policy.hpp"

namespace veil::proxy {

std::string consent_content_security_policy(const policies::Policy& policy,
                                            const policies::ConsentState& consent);

}  // namespace veil::proxy
