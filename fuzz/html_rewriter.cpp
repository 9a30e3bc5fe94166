// libFuzzer target for the streaming HTML rewriter. Invariants, for input fed in chunks of a size
// taken from the first byte:
// - the tokenizer hands on every byte exactly once, and a rewriter without handlers outputs the
//   input unchanged;
// - the output does not depend on where chunks end;
// - with "every <script src> to tracker.example becomes inert", no script in the output still
//   has such a src, unless the rewriter reported a bail-out.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "veil/proxy/html_rewriter.hpp"

using namespace veil::proxy;

namespace {

constexpr std::string_view kBlockedHost = "tracker.example";

void require(bool condition) {
  if (!condition) std::abort();
}

std::string url_host(std::string_view url) {
  const auto slashes = url.find("//");
  if (slashes == std::string_view::npos) return {};
  url.remove_prefix(slashes + 2);
  url = url.substr(0, url.find_first_of("/?#\\:"));
  std::string host;
  for (char c : url) host += (c >= 'A' && c <= 'Z') ? static_cast<char>(c | 0x20) : c;
  return host;
}

HtmlRewriterOptions small_limits() {
  HtmlRewriterOptions options;
  options.max_construct_bytes = 512;  // reach the caps with small inputs
  return options;
}

void neutralise_blocked_scripts(HtmlRewriter& rewriter) {
  rewriter.on_element({HtmlTag::script}, [](HtmlElement& script) {
    const auto src = script.attribute("src");
    if (!src || url_host(*src) != kBlockedHost) return;
    script.set_attribute("type", "text/plain");
    script.set_attribute("data-veil-src", *src);
    script.remove_attribute("src");
  });
}

template <typename Setup>
std::string rewrite(std::string_view input, std::size_t chunk, Setup setup, HtmlBailout& bailout) {
  HtmlRewriter rewriter(small_limits());
  setup(rewriter);
  std::string out;
  for (std::size_t at = 0; at < input.size(); at += chunk) {
    rewriter.write(input.substr(at, chunk), out);
  }
  rewriter.end(out);
  bailout = rewriter.bailout();
  return out;
}

struct ByteCountingSink : HtmlTokenSink {
  std::string bytes;
  bool blocked_script_seen = false;
  void on_bytes(std::string_view chunk) override { bytes += chunk; }
  void on_tag(const HtmlTagToken& token) override {
    bytes += token.raw;
    if (token.end_tag || token.tag != HtmlTag::script) return;
    for (const HtmlAttributeSpan& span : token.attributes) {
      std::string name;
      for (char c : token.raw.substr(span.name_begin, span.name_end - span.name_begin)) {
        name += (c >= 'A' && c <= 'Z') ? static_cast<char>(c | 0x20) : c;
      }
      if (name != "src") continue;
      std::string value;
      decode_html_attribute_value(
          token.raw.substr(span.value_begin, span.value_end - span.value_begin), value);
      blocked_script_seen = blocked_script_seen || url_host(value) == kBlockedHost;
      break;  // the parser keeps the first src
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 64;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

  ByteCountingSink tokens;
  HtmlTokenizerOptions options;
  options.tags_of_interest = HtmlTagSet::all();
  options.max_construct_bytes = 512;
  HtmlTokenizer tokenizer(tokens, options);
  for (std::size_t at = 0; at < input.size(); at += chunk) tokenizer.write(input.substr(at, chunk));
  tokenizer.end();
  require(tokens.bytes == input);

  HtmlBailout bailout = HtmlBailout::none;
  require(rewrite(
              input, chunk, [](HtmlRewriter&) {}, bailout) == input);

  const std::string whole = rewrite(input, input.size() + 1, neutralise_blocked_scripts, bailout);
  const HtmlBailout whole_bailout = bailout;
  const std::string chunked = rewrite(input, chunk, neutralise_blocked_scripts, bailout);
  if (whole_bailout == HtmlBailout::none && bailout == HtmlBailout::none) {
    require(chunked == whole);
  }
  if (bailout == HtmlBailout::none) {
    ByteCountingSink check;
    HtmlTokenizerOptions check_options;
    check_options.tags_of_interest = {HtmlTag::script};
    HtmlTokenizer checker(check, check_options);
    checker.write(chunked);
    checker.end();
    require(checker.bailout() == HtmlBailout::none);
    require(!check.blocked_script_seen);
  }
  return 0;
}
