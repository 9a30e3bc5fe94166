#include "veil/proxy/embed_blocker.hpp"

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "consent_cache.hpp"
#include "veil/anonymiser/gzip_codec.hpp"
#include "veil/policies/set_cookie.hpp"
#include "veil/proxy/consent_pages.hpp"
#include "veil/proxy/embed_blocker_html.hpp"
#include "veil/proxy/security_headers.hpp"

namespace veil::proxy {

namespace http = boost::beast::http;

struct EmbedBlocker::Counters {
  Family<Counter>& blocked;
  Family<Counter>& bailout;
  std::array<Counter*, 6> bailouts{};  // by HtmlBailout
  Counter& unsupported_encoding;
  Counter& corrupt_encoding;

  explicit Counters(MetricsRegistry& registry)
      : blocked(registry.counter_family(
            "veil_embeds_blocked_total",
            "Third-party embeds blocked (mode=report_only: would have been blocked)",
            {"provider", "category", "mode"})),
        bailout(registry.counter_family(
            "veil_html_rewrite_bailouts_total",
            "HTML responses passed on unrewritten from some point on (the CSP still applies)",
            {"reason"})),
        unsupported_encoding(bailout.with({"content_encoding"})),
        corrupt_encoding(bailout.with({"corrupt_gzip"})) {
    for (auto reason : {HtmlBailout::construct_too_large, HtmlBailout::document_too_large,
                        HtmlBailout::ambiguous_select, HtmlBailout::ambiguous_frameset,
                        HtmlBailout::ambiguous_foreign_content}) {
      bailouts[static_cast<std::size_t>(reason)] = &bailout.with({to_string(reason)});
    }
  }

  void count_bailout(HtmlBailout reason) {
    if (auto* counter = bailouts[static_cast<std::size_t>(reason)]) counter->inc();
  }
};

namespace {

std::string_view view(boost::beast::string_view value) {
  return {value.data(), value.size()};
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Whether an Accept-Encoding list accepts gzip (`gzip` or `x-gzip`, or `*`, with q > 0).
bool accepts_gzip(std::string_view accept_encoding) {
  while (!accept_encoding.empty()) {
    const auto comma = accept_encoding.find(',');
    auto item = accept_encoding.substr(0, comma);
    accept_encoding =
        comma == std::string_view::npos ? std::string_view() : accept_encoding.substr(comma + 1);
    const auto semicolon = item.find(';');
    auto coding = item.substr(0, semicolon);
    while (!coding.empty() && coding.front() == ' ') coding.remove_prefix(1);
    while (!coding.empty() && coding.back() == ' ') coding.remove_suffix(1);
    if (!iequals(coding, "gzip") && !iequals(coding, "x-gzip") && coding != "*") continue;
    if (semicolon == std::string_view::npos) return true;
    auto parameters = item.substr(semicolon + 1);
    const auto q = parameters.find("q=");
    if (q == std::string_view::npos) return true;
    // q=0, q=0.0, q=0.000 refuse; any other weight accepts.
    const auto value = parameters.substr(q + 2, parameters.find(';', q) - (q + 2));
    return value.find_first_of("123456789") != std::string_view::npos;
  }
  return false;
}

enum class BodyEncoding : std::uint8_t { identity, gzip, other };

BodyEncoding body_encoding(const ResponseHead& response) {
  const auto encoding = view(response[http::field::content_encoding]);
  if (encoding.empty() || iequals(encoding, "identity")) return BodyEncoding::identity;
  if (iequals(encoding, "gzip") || iequals(encoding, "x-gzip")) return BodyEncoding::gzip;
  return BodyEncoding::other;
}

struct ExchangeState {
  bool enforce = true;
  bool client_accepts_gzip = false;
  std::optional<EmbedHtmlRewrite::Settings> rewrite;  // set in on_response_head for HTML
  BodyEncoding encoding = BodyEncoding::identity;
};

class EmbedTransform final : public BodyTransform {
 public:
  EmbedTransform(EmbedHtmlRewrite::Settings settings, BodyEncoding encoding, bool encode,
                 std::shared_ptr<EmbedBlocker::Counters> counters)
      : enforce_(settings.enforce),
        counters_(std::move(counters)),
        policy_(settings.policy),
        rewrite_(std::move(settings), [this](const policies::EmbedRule& rule, HtmlTag) {
          // Family::with locks: fine per blocked embed (a few per page), never per byte.
          counters_->blocked
              .with({rule.provider, policy_->category_name(rule.category),
                     enforce_ ? "enforce" : "report_only"})
              .inc();
        }) {
    if (encoding == BodyEncoding::gzip) decoder_.emplace();
    if (encode) encoder_.emplace();
  }
  bool reads_only() const override { return !enforce_; }

  void transform(std::string_view chunk, std::string& out) override {
    if (!enforce_) {
      scan(chunk);
      return;
    }
    if (decoder_) {
      decoded_.clear();
      decoder_->decode(chunk, decoded_);
      chunk = decoded_;
    }
    if (!encoder_) {
      rewrite_.write(chunk, out);
      return;
    }
    rewritten_.clear();
    rewrite_.write(chunk, rewritten_);
    encoder_->encode(rewritten_, out);
    encoder_->sync_flush(out);  // a streamed page reaches the browser without waiting for the rest
  }

  void finish(std::string& out) override {
    if (!enforce_) {
      if (!broken_) rewrite_.end_scan();
      report();
      return;
    }
    if (decoder_) decoder_->finish();
    rewritten_.clear();
    rewrite_.end(encoder_ ? rewritten_ : out);
    if (encoder_) {
      encoder_->encode(rewritten_, out);
      encoder_->finish(out);
    }
    report();
  }

 private:
  // Report-only: the client gets the original bytes; a decoding failure only ends the count.
  void scan(std::string_view chunk) {
    if (broken_) return;
    try {
      if (decoder_) {
        decoded_.clear();
        decoder_->decode(chunk, decoded_);
        chunk = decoded_;
      }
      rewrite_.scan(chunk);
    } catch (const std::runtime_error&) {
      broken_ = true;
      counters_->corrupt_encoding.inc();
    }
  }
  void report() {
    if (rewrite_.bailout() != HtmlBailout::none) counters_->count_bailout(rewrite_.bailout());
  }

  bool enforce_;
  bool broken_ = false;
  std::shared_ptr<EmbedBlocker::Counters> counters_;
  std::shared_ptr<const policies::Policy> policy_;  // for the category names counted
  EmbedHtmlRewrite rewrite_;
  std::optional<anonymiser::GzipDecoder> decoder_;
  std::optional<anonymiser::GzipEncoder> encoder_;
  std::string decoded_;
  std::string rewritten_;
};

std::string_view target_of(const Exchange& exchange) {
  return view(exchange.request.target());
}

}  // namespace

struct EmbedBlocker::Banners {
  // What the banner depends on (ConsentBannerTemplate).
  struct Key {
    bool decided;
    bool gpc;
    ConsentSaved saved;
    bool operator==(const Key&) const = default;
  };
  ConsentCache<Key, ConsentBannerTemplate> templates;
};

EmbedBlocker::EmbedBlocker(const ConsentFilter& consent, MetricsRegistry& registry)
    : consent_(consent),
      counters_(std::make_shared<Counters>(registry)),
      banners_(std::make_unique<Banners>()) {}

EmbedBlocker::~EmbedBlocker() = default;

void EmbedBlocker::on_request(Exchange& exchange) {
  const auto policy = exchange_policy(exchange);
  if (!policy) return;
  auto state = std::make_shared<ExchangeState>();
  const auto target = target_of(exchange);
  state->enforce =
      policy->mode_for_path(target.substr(0, target.find('?'))) == policies::Mode::enforce;
  state->client_accepts_gzip = accepts_gzip(view(exchange.request[http::field::accept_encoding]));
  if (state->enforce) {
    // Only encodings veil can rewrite; `br` and friends would pass HTML by unrewritten.
    exchange.request.set(http::field::accept_encoding,
                         state->client_accepts_gzip ? "gzip" : "identity");
  }
  exchange.state_for(*this) = std::move(state);
}

void EmbedBlocker::on_response_head(Exchange& exchange) {
  auto* state = static_cast<ExchangeState*>(exchange.state_for(*this).get());
  const auto policy = exchange_policy(exchange);
  if (state == nullptr || !policy || exchange.local_handler) return;
  auto& response = exchange.response;
  const unsigned status = response.result_int();
  if (status < 200 || status == 204 || status == 206 || status == 304) return;
  if (!is_html_response(response)) return;
  const auto disposition = view(response[http::field::content_disposition]);
  if (disposition.size() >= 10 && iequals(disposition.substr(0, 10), "attachment")) return;
  const auto consent = consent_.consent_of(exchange);
  if (!consent) return;
  state->encoding = body_encoding(response);
  if (state->encoding == BodyEncoding::other) {
    counters_->unsupported_encoding.inc();
    return;
  }

  EmbedHtmlRewrite::Settings settings;
  settings.policy = policy;
  settings.granted = consent->granted;
  settings.enforce = state->enforce;
  settings.return_path = std::string(safe_return_path(target_of(exchange)));
  if (state->enforce) {
    const auto saved = consent_.confirmation_of(exchange);
    const auto banner =
        banners_->templates.get(policy, Banners::Key{consent->decided, consent->gpc, saved},
                                [&] { return ConsentBannerTemplate(*policy, *consent, saved); });
    banner->render(settings.return_path, settings.banner_html);
    if (saved != ConsentSaved::none) {
      if (auto expire = policies::build_deletion_set_cookie(kConsentSavedCookie, "")) {
        response.insert(http::field::set_cookie, *expire);
      }
    }
    response.erase(http::field::content_length);
    if (state->encoding == BodyEncoding::gzip && !state->client_accepts_gzip) {
      response.erase(http::field::content_encoding);
    }
    if (auto etag = view(response[http::field::etag]); !etag.empty() && !etag.starts_with("W/")) {
      response.set(http::field::etag, "W/" + std::string(etag));
    }
    mark_personalised(response);
  }
  state->rewrite = std::move(settings);
}

std::unique_ptr<BodyTransform> EmbedBlocker::response_body_transform(Exchange& exchange) {
  auto* state = static_cast<ExchangeState*>(exchange.state_for(*this).get());
  if (state == nullptr || !state->rewrite) return nullptr;
  const bool encode =
      state->enforce && state->encoding == BodyEncoding::gzip && state->client_accepts_gzip;
  auto transform = std::make_unique<EmbedTransform>(std::move(*state->rewrite), state->encoding,
                                                    encode, counters_);
  state->rewrite.reset();
  return transform;
}

}  // namespace veil::proxy
