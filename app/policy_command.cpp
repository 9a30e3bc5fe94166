// `veil policy check|explain|test`: the security team's tools for the policy file.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "command.hpp"
#include "veil/policies/loader.hpp"
#include "veil/policies/policy_cases.hpp"
#include "veil/proxy/html_tokenizer.hpp"

namespace veil::app {
namespace {

using policies::Diagnostic;

constexpr const char* kUsage =
    "Usage:\n"
    "  veil policy check FILE...\n"
    "      Checks policy files; prints every problem as file:line:col: error|warning: ...\n"
    "      Exit 0 when every file is valid (warnings allowed), 1 otherwise.\n"
    "  veil policy explain --policy FILE [CASES.yaml] [--request 'GET /path'] [--header 'Name: "
    "v']\n"
    "                      [--cookie 'a=b; c=d'] [--set-cookie '...'] [--html FILE] [--tls]\n"
    "                      [--consent CATEGORY,...]\n"
    "      Prints every decision the policy makes for the exchange, with the rule that made it.\n"
    "      --header, --cookie and --set-cookie repeat; Host, Cookie, Sec-GPC, Date and\n"
    "      X-Forwarded-Proto headers are understood. A case file (YAML/JSON) replaces the flags.\n"
    "  veil policy test FILE CASES.yaml\n"
    "      Runs expectation cases; prints every difference. Exit 1 on any.\n";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "veil policy: %s\n%s", message.c_str(), kUsage);
  return 2;
}

void print_diagnostics(const std::vector<Diagnostic>& diagnostics) {
  for (const auto& diagnostic : diagnostics) {
    std::fprintf(stderr, "%s\n", policies::to_string(diagnostic).c_str());
  }
}

// Collects the third-party hosts of the elements that load something.
class EmbedHostSink : public proxy::HtmlTokenSink {
 public:
  explicit EmbedHostSink(std::vector<std::string>& hosts) : hosts_(hosts) {}
  void on_bytes(std::string_view) override {}
  void on_tag(const proxy::HtmlTagToken& tag) override {
    if (tag.end_tag) return;
    for (const auto& attribute : tag.attributes) {
      std::string_view name =
          tag.raw.substr(attribute.name_begin, attribute.name_end - attribute.name_begin);
      if (!iequals(name, "src") && !iequals(name, "href") && !iequals(name, "data")) continue;
      std::string value;
      proxy::decode_html_attribute_value(
          tag.raw.substr(attribute.value_begin, attribute.value_end - attribute.value_begin),
          value);
      std::string host = url_host(value);
      if (!host.empty() && std::find(hosts_.begin(), hosts_.end(), host) == hosts_.end()) {
        hosts_.push_back(std::move(host));
      }
    }
  }

 private:
  static bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) == y;
           });
  }
  // The host of an absolute or protocol-relative URL; "" for a relative one.
  static std::string url_host(std::string_view url) {
    while (!url.empty() && std::isspace(static_cast<unsigned char>(url.front())))
      url.remove_prefix(1);
    auto scheme_end = url.find("//");
    if (scheme_end == std::string_view::npos) return "";
    auto scheme = url.substr(0, scheme_end);
    if (!(scheme.empty() || iequals(scheme, "http:") || iequals(scheme, "https:"))) return "";
    url.remove_prefix(scheme_end + 2);
    url = url.substr(0, url.find_first_of("/?#"));
    if (auto at = url.rfind('@'); at != std::string_view::npos) url.remove_prefix(at + 1);
    url = url.substr(0, url.find(':'));
    std::string host(url);
    for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return host;
  }

  std::vector<std::string>& hosts_;
};

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The embed hosts of a case's HTML file; nullopt (after an error message) if it cannot be read.
std::optional<std::vector<std::string>> html_embed_hosts(const policies::PolicyCase& exchange) {
  std::vector<std::string> hosts;
  if (exchange.html_file.empty()) return hosts;
  auto html = read_file(exchange.html_file);
  if (!html) {
    std::fprintf(stderr, "veil policy: cannot read HTML file '%s'\n", exchange.html_file.c_str());
    return std::nullopt;
  }
  EmbedHostSink sink(hosts);
  proxy::HtmlTokenizer tokenizer(
      sink,
      {.tags_of_interest = {proxy::HtmlTag::iframe, proxy::HtmlTag::script, proxy::HtmlTag::img,
                            proxy::HtmlTag::embed, proxy::HtmlTag::object, proxy::HtmlTag::link,
                            proxy::HtmlTag::source, proxy::HtmlTag::video, proxy::HtmlTag::audio}});
  tokenizer.write(*html);
  tokenizer.end();
  return hosts;
}

std::shared_ptr<const policies::Policy> load_or_report(const std::string& file) {
  auto result = policies::load_policy(file);
  print_diagnostics(result.diagnostics);
  return result.policy;
}

int run_check(const std::vector<std::string>& files) {
  if (files.empty()) return usage_error("check: no policy file given");
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

// Applies one `--header 'Name: value'` to the case.
bool apply_header(std::string_view header, policies::PolicyCase& exchange) {
  auto colon = header.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string name(header.substr(0, colon));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view value = header.substr(colon + 1);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (name == "host") {
    exchange.host = std::string(value.substr(0, value.find(':')));
  } else if (name == "cookie") {
    exchange.cookie_header += (exchange.cookie_header.empty() ? "" : "; ") + std::string(value);
  } else if (name == "sec-gpc") {
    exchange.sec_gpc = value == "1";
  } else if (name == "x-forwarded-proto") {
    exchange.tls = value == "https";
  } else if (name == "date") {
    exchange.date = policies::parse_http_date(value);
    if (!exchange.date) return false;
  } else if (name == "set-cookie") {
    exchange.set_cookies.emplace_back(value);
  }
  return true;
}

int run_explain(const std::vector<std::string>& arguments) {
  std::string policy_file, case_file;
  policies::PolicyCase exchange;
  exchange.name = "command line";
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    const std::string& flag = arguments[i];
    const bool takes_value = flag == "--policy" || flag == "--request" || flag == "--header" ||
                             flag == "--cookie" || flag == "--set-cookie" || flag == "--html" ||
                             flag == "--consent";
    if (takes_value && i + 1 == arguments.size()) return usage_error(flag + " needs a value");
    if (flag == "--policy") {
      policy_file = arguments[++i];
    } else if (flag == "--request") {
      const std::string& request = arguments[++i];
      auto space = request.find(' ');
      if (space == std::string::npos || request.compare(space + 1, 1, "/") != 0) {
        return usage_error("--request expects 'METHOD /path', got '" + request + "'");
      }
      exchange.method = request.substr(0, space);
      exchange.path = request.substr(space + 1);
    } else if (flag == "--header") {
      if (!apply_header(arguments[++i], exchange)) {
        return usage_error("--header expects 'Name: value', got '" + arguments[i] + "'");
      }
    } else if (flag == "--cookie") {
      apply_header("Cookie: " + arguments[++i], exchange);
    } else if (flag == "--set-cookie") {
      exchange.set_cookies.push_back(arguments[++i]);
    } else if (flag == "--html") {
      exchange.html_file = arguments[++i];
    } else if (flag == "--tls") {
      exchange.tls = true;
    } else if (flag == "--consent") {
      std::vector<std::string> categories;
      std::stringstream list(arguments[++i]);
      for (std::string category; std::getline(list, category, ',');) {
        if (!category.empty()) categories.push_back(category);
      }
      exchange.consent = std::move(categories);
    } else if (!flag.starts_with("--") && case_file.empty()) {
      case_file = flag;
    } else {
      return usage_error("explain: unknown argument '" + flag + "'");
    }
  }
  if (policy_file.empty()) return usage_error("explain needs --policy FILE");
  auto policy = load_or_report(policy_file);
  if (!policy) return 1;

  std::vector<policies::PolicyCase> cases{exchange};
  if (!case_file.empty()) {
    auto loaded = policies::load_cases(case_file);
    print_diagnostics(loaded.diagnostics);
    if (!loaded.ok()) return 1;
    cases = std::move(loaded.cases);
  }
  for (std::size_t i = 0; i < cases.size(); ++i) {
    auto hosts = html_embed_hosts(cases[i]);
    if (!hosts) return 1;
    if (cases.size() > 1) std::printf("%s== %s\n", i > 0 ? "\n" : "", cases[i].name.c_str());
    auto outcome = policies::evaluate_case(*policy, cases[i], *hosts);
    for (const auto& line : policies::explain_outcome(*policy, cases[i], outcome)) {
      std::printf("%s\n", line.c_str());
    }
  }
  return 0;
}

int run_test(const std::vector<std::string>& arguments) {
  if (arguments.size() != 2) return usage_error("test expects FILE CASES.yaml");
  auto policy = load_or_report(arguments[0]);
  if (!policy) return 1;
  auto loaded = policies::load_cases(arguments[1]);
  print_diagnostics(loaded.diagnostics);
  if (!loaded.ok()) return 1;
  std::size_t failed = 0;
  for (const auto& exchange : loaded.cases) {
    auto hosts = html_embed_hosts(exchange);
    if (!hosts) return 1;
    auto outcome = policies::evaluate_case(*policy, exchange, *hosts);
    auto differences = policies::case_differences(*policy, exchange, outcome);
    for (const auto& line : differences) std::printf("%s\n", line.c_str());
    if (!differences.empty()) ++failed;
  }
  std::printf("%zu of %zu cases passed\n", loaded.cases.size() - failed, loaded.cases.size());
  return failed == 0 ? 0 : 1;
}

int policy_main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string_view action = argv[1];
  std::vector<std::string> arguments(argv + 2, argv + argc);
  if (action == "check") return run_check(arguments);
  if (action == "explain") return run_explain(arguments);
  if (action == "test") return run_test(arguments);
  return usage_error("unknown action '" + std::string(action) + "'");
}

const CommandRegistration registration{"policy", "check, explain and test policy files",
                                       policy_main};

}  // namespace
}  // namespace veil::app
