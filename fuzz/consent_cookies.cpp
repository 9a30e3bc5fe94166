// libFuzzer target: Cookie header splitting and every consent-cookie reader. The input is read
// twice: as a whole Cookie header, and as the value of each format's own cookie (so the JSON,
// object-literal and form readers see arbitrary values, not only ones that survive splitting).
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "veil/policies/consent_cookies.hpp"
#include "veil/policies/cookie_header.hpp"

using namespace veil::policies;

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

constexpr std::string_view kCookieNames[] = {"cookies_policy", "CookieControl", "cc_cookie",
                                             "klaro",          "CookieConsent", "OptanonConsent",
                                             "cmplz_marketing"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  const std::vector<CookiePair> cookies = parse_cookie_header(input);
  require(parse_cookie_header(serialize_cookie_header(cookies)) == cookies);
  for (ConsentFormat format : kConsentFormats) (void)read_consent(format, cookies);

  for (std::string_view name : kCookieNames) {
    const std::vector<CookiePair> single = {{name, input},
                                            {"cookies_preferences_set", "true"},
                                            {"OptanonAlertBoxClosed", "2021-08-04T15:45:37.821Z"}};
    for (ConsentFormat format : kConsentFormats) (void)read_consent(format, single);
  }
  return 0;
}
