#include "veil/policies/policy_cases.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include "yaml_reader.hpp"

namespace veil::policies {
namespace {

class CaseReader : public YamlReader {
 public:
  CaseReader(std::string file, std::string base_directory)
      : YamlReader(std::move(file)), base_directory_(std::move(base_directory)) {}

  CaseFile read(std::string_view text) {
    CaseFile out;
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::ParserException& problem) {
      report(Diagnostic::Severity::error, {file_, problem.mark.line + 1, problem.mark.column + 1},
             "YAML syntax: " + problem.msg);
      out.diagnostics = std::move(diagnostics_);
      return out;
    }
    if (root.IsMap() && root["cases"].IsDefined()) {
      Section top(*this, root, "", {"cases"});
      const auto& cases = top["cases"];
      if (!cases.IsSequence()) {
        error(cases, "expected a list for 'cases', got " + std::string(kind_of(cases)));
      } else {
        for (std::size_t i = 0; i < cases.size(); ++i) {
          read_case(cases[i], "cases[" + std::to_string(i) + "]", out.cases);
        }
      }
    } else {
      read_case(root, "case", out.cases);
    }
    sort_diagnostics();
    out.diagnostics = std::move(diagnostics_);
    return out;
  }

 private:
  std::vector<std::string> strings(const YAML::Node& node, const std::string& what) {
    std::vector<std::string> out;
    if (auto items = string_list(node, what)) {
      for (auto& [item, text] : *items) out.push_back(text);
    }
    return out;
  }

  void read_case(const YAML::Node& node, const std::string& what, std::vector<PolicyCase>& cases) {
    Section entry(*this, node, what,
                  {"name", "request", "host", "tls", "sec_gpc", "cookies", "consent", "set_cookies",
                   "embeds", "html", "date", "expect"});
    if (!entry.valid()) return;
    PolicyCase exchange;
    exchange.where = at(node);
    exchange.name =
        entry.has("name") ? string(entry["name"], entry.path("name")).value_or("") : what;
    if (entry.has("request")) {
      auto request = string(entry["request"], entry.path("request")).value_or("GET /");
      auto space = request.find(' ');
      if (space == std::string::npos || request.compare(space + 1, 1, "/") != 0) {
        error(entry["request"],
              "expected 'METHOD /path' for '" + entry.path("request") + "', got '" + request + "'");
      } else {
        exchange.method = request.substr(0, space);
        exchange.path = request.substr(space + 1);
      }
    }
    if (entry.has("host")) exchange.host = string(entry["host"], entry.path("host")).value_or("");
    if (entry.has("tls")) exchange.tls = boolean(entry["tls"], entry.path("tls")).value_or(false);
    if (entry.has("sec_gpc")) {
      exchange.sec_gpc = boolean(entry["sec_gpc"], entry.path("sec_gpc")).value_or(false);
    }
    if (entry.has("cookies")) {
      exchange.cookie_header = string(entry["cookies"], entry.path("cookies")).value_or("");
    }
    if (entry.has("consent")) exchange.consent = strings(entry["consent"], entry.path("consent"));
    if (entry.has("set_cookies")) {
      exchange.set_cookies = strings(entry["set_cookies"], entry.path("set_cookies"));
    }
    if (entry.has("embeds")) exchange.embed_hosts = strings(entry["embeds"], entry.path("embeds"));
    if (entry.has("html")) {
      auto file = string(entry["html"], entry.path("html")).value_or("");
      exchange.html_file =
          (file.starts_with('/') || base_directory_.empty()) ? file : base_directory_ + "/" + file;
    }
    if (entry.has("date")) {
      auto text = string(entry["date"], entry.path("date")).value_or("");
      exchange.date = parse_http_date(text);
      if (!exchange.date) {
        error(entry["date"], "expected an HTTP date such as 'Mon, 23 Nov 2026 10:00:00 GMT' for '" +
                                 entry.path("date") + "', got '" + text + "'");
      }
    }
    if (entry.has("expect")) read_expectations(entry["expect"], entry.path("expect"), exchange);
    cases.push_back(std::move(exchange));
  }

  // `outcome_names`: the words a value may be.
  std::vector<ExpectedOutcome> outcomes(const YAML::Node& node, const std::string& what,
                                        const std::vector<std::string_view>& outcome_names) {
    std::vector<ExpectedOutcome> out;
    if (!node.IsMap()) {
      error(node, "expected a mapping for '" + what + "', got " + std::string(kind_of(node)));
      return out;
    }
    for (const auto& pair : node) {
      const YAML::Node key = pair.first;
      const YAML::Node value = pair.second;
      auto word = string(value, what + "." + key.Scalar());
      if (!word) continue;
      if (std::find(outcome_names.begin(), outcome_names.end(), *word) == outcome_names.end()) {
        error(value, "invalid value '" + *word + "' for '" + what + "." + key.Scalar() +
                         "': expected " + quoted_list(outcome_names, " or ") +
                         suggestion(*word, outcome_names));
        continue;
      }
      out.push_back({key.Scalar(), *word, at(key)});
    }
    return out;
  }

  void read_expectations(const YAML::Node& node, const std::string& what, PolicyCase& exchange) {
    Section expect(*this, node, what, {"consent", "set_cookies", "request_cookies", "embeds"});
    if (!expect.valid()) return;
    if (expect.has("consent")) {
      exchange.expect_consent = strings(expect["consent"], expect.path("consent"));
      exchange.expect_consent_where = at(expect["consent"]);
    }
    if (expect.has("request_cookies")) {
      exchange.expect_request_cookies = outcomes(
          expect["request_cookies"], expect.path("request_cookies"), {"forwarded", "expired"});
    }
    if (expect.has("embeds")) {
      exchange.expect_embeds =
          outcomes(expect["embeds"], expect.path("embeds"), {"blocked", "loaded"});
    }
    if (!expect.has("set_cookies")) return;
    const auto& cookies = expect["set_cookies"];
    if (!cookies.IsMap()) {
      error(cookies, "expected a mapping for '" + expect.path("set_cookies") + "', got " +
                         std::string(kind_of(cookies)));
      return;
    }
    const std::vector<std::string_view> actions{"kept", "rewritten", "removed"};
    for (const auto& pair : cookies) {
      const YAML::Node key = pair.first;
      const YAML::Node value = pair.second;
      const std::string cookie_what = expect.path("set_cookies") + "." + key.Scalar();
      ExpectedSetCookie expected;
      expected.name = key.Scalar();
      expected.where = at(key);
      YAML::Node action_node;
      if (value.IsScalar()) {
        action_node = value;
      } else {
        Section fields(*this, value, cookie_what, {"action", "category", "max_age"});
        if (!fields.valid()) continue;
        if (fields.has("action")) action_node = fields["action"];
        if (fields.has("category")) {
          expected.category = string(fields["category"], fields.path("category"));
        }
        if (fields.has("max_age")) {
          if (fields["max_age"].IsScalar() && fields["max_age"].Scalar() == "session") {
            expected.session = true;
          } else {
            expected.max_age = duration(fields["max_age"], fields.path("max_age"));
          }
        }
      }
      if (action_node.IsDefined()) {
        auto word = string(action_node, cookie_what);
        if (word && std::find(actions.begin(), actions.end(), *word) == actions.end()) {
          error(action_node, "invalid value '" + *word + "' for '" + cookie_what +
                                 "': expected kept, rewritten or removed" +
                                 suggestion(*word, actions));
          continue;
        }
        expected.action = word;
      }
      exchange.expect_set_cookies.push_back(std::move(expected));
    }
  }

  std::string base_directory_;
};

std::string joined(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) out += separator;
    out += part;
  }
  return out;
}

std::vector<std::string> granted_names(const Policy& policy, const ConsentState& consent) {
  std::vector<std::string> names;
  for (std::size_t id = 0; id < policy.consent.categories.size(); ++id) {
    if (consent.granted.contains(static_cast<CategoryId>(id))) {
      names.push_back(policy.consent.categories[id].name);
    }
  }
  return names;
}

std::string verdict(std::string_view action, bool enforced) {
  return enforced ? " → " + std::string(action)
                  : " → would be " + std::string(action) + " (report-only)";
}

std::string lifetime_text(const SetCookie& cookie) {
  if (cookie.max_age()) return "Max-Age " + std::to_string(*cookie.max_age());
  if (cookie.expires()) return "Expires " + format_http_date(*cookie.expires());
  return "session";
}

std::string lifetime_duration(std::optional<std::int64_t> seconds) {
  return seconds ? format_duration(Duration{*seconds}) : "session";
}

}  // namespace

bool CaseFile::ok() const {
  return std::none_of(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& diagnostic) {
    return diagnostic.severity == Diagnostic::Severity::error;
  });
}

CaseFile load_cases_from_string(std::string_view text, const std::string& name,
                                const std::string& base_directory) {
  return CaseReader(name, base_directory).read(text);
}

CaseFile load_cases(const std::string& path) {
  auto file = read_yaml_file(path);
  if (!file) {
    CaseFile out;
    out.diagnostics.push_back(
        {Diagnostic::Severity::error, path, 0, 0, "cannot read the case file"});
    return out;
  }
  return load_cases_from_string(file->text, path, file->directory);
}

CaseOutcome evaluate_case(const Policy& policy, const PolicyCase& exchange,
                          std::span<const std::string> extra_embed_hosts) {
  CaseOutcome outcome;
  outcome.mode = policy.mode_for_path(exchange.path);
  auto cookies = parse_cookie_header(exchange.cookie_header);
  outcome.consent = exchange.consent ? consent_for(policy, *exchange.consent)
                                     : read_consent_state(policy, cookies, exchange.sec_gpc);
  for (const auto& cookie : cookies) {
    outcome.request_cookies.emplace_back(
        std::string(cookie.name),
        decide_request_cookie(policy, cookie.name, outcome.consent, exchange.host, outcome.mode));
  }
  const auto date = exchange.date.value_or(
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()));
  const ResponseContext context{exchange.host, date, exchange.tls, outcome.mode};
  for (const auto& header : exchange.set_cookies) {
    SetCookieOutcome entry;
    entry.header = header;
    auto parsed = parse_set_cookie(header);
    if (parsed.cookie) {
      entry.decision = decide_set_cookie(policy, *parsed.cookie, outcome.consent, context);
      entry.cookie = std::move(parsed.cookie);
    } else {
      entry.parse_error = parsed.error;
      entry.decision.action = CookieAction::remove;
      entry.decision.enforced = outcome.mode == Mode::enforce;
      entry.decision.reasons.push_back("unparsable (" + std::string(parsed.error) + ")");
    }
    outcome.set_cookies.push_back(std::move(entry));
  }
  std::vector<std::string> hosts = exchange.embed_hosts;
  hosts.insert(hosts.end(), extra_embed_hosts.begin(), extra_embed_hosts.end());
  for (const auto& host : hosts) {
    if (std::any_of(outcome.embeds.begin(), outcome.embeds.end(),
                    [&](const auto& seen) { return seen.first == host; })) {
      continue;
    }
    outcome.embeds.emplace_back(host, decide_embed(policy, host, outcome.consent, outcome.mode));
  }
  return outcome;
}

std::vector<std::string> explain_outcome(const Policy& policy, const PolicyCase& exchange,
                                         const CaseOutcome& outcome) {
  std::vector<std::string> lines;
  lines.push_back("Request " + exchange.method + " " + exchange.path + " (host " + exchange.host +
                  (exchange.tls ? ", https" : ", http") + "): mode " +
                  std::string(to_string(outcome.mode)));
  const auto& consent = outcome.consent;
  lines.push_back(
      "Consent: " +
      (consent.decided ? "from " + consent.source : std::string("no decision recorded")) +
      "; granted: " + joined(granted_names(policy, consent), ", "));
  for (const auto& [name, decision] : outcome.request_cookies) {
    lines.push_back("Cookie " + name + ": " + joined(decision.reasons, "; ") +
                    verdict(to_string(decision.action), decision.enforced));
  }
  for (const auto& entry : outcome.set_cookies) {
    const auto& decision = entry.decision;
    std::string subject = entry.cookie
                              ? entry.cookie->name() + " (" + lifetime_text(*entry.cookie) + ")"
                              : "'" + entry.header + "'";
    std::string line = "Set-Cookie " + subject + ": " + joined(decision.reasons, "; ") +
                       verdict(to_string(decision.action), decision.enforced);
    if (decision.rewritten) line += ": " + decision.rewritten->serialize();
    lines.push_back(std::move(line));
  }
  for (const auto& [host, decision] : outcome.embeds) {
    lines.push_back("Embed " + host + ": " + joined(decision.reasons, "; ") +
                    verdict(decision.blocked ? "blocked" : "loaded", decision.enforced));
  }
  return lines;
}

std::vector<std::string> case_differences(const Policy& policy, const PolicyCase& exchange,
                                          const CaseOutcome& outcome) {
  std::vector<std::string> out;
  auto differ = [&](const SourceLocation& where, const std::string& text) {
    out.push_back(to_string(where) + ": case '" + exchange.name + "': " + text);
  };
  if (exchange.expect_consent) {
    std::vector<std::string> expected;
    for (const auto& name : *exchange.expect_consent) {
      if (policy.category_id(name)) expected.push_back(name);
    }
    for (const auto& category : policy.consent.categories) {
      if (category.always_on &&
          std::find(expected.begin(), expected.end(), category.name) == expected.end()) {
        expected.push_back(category.name);
      }
    }
    auto got = granted_names(policy, outcome.consent);
    auto sorted_expected = expected;
    std::sort(sorted_expected.begin(), sorted_expected.end());
    auto sorted_got = got;
    std::sort(sorted_got.begin(), sorted_got.end());
    if (sorted_expected != sorted_got) {
      differ(exchange.expect_consent_where, "consent: expected " + joined(sorted_expected, ", ") +
                                                ", got " + joined(sorted_got, ", "));
    }
  }
  for (const auto& expected : exchange.expect_set_cookies) {
    auto found = std::find_if(outcome.set_cookies.begin(), outcome.set_cookies.end(),
                              [&](const SetCookieOutcome& entry) {
                                return entry.cookie && entry.cookie->name() == expected.name;
                              });
    const std::string subject = "Set-Cookie " + expected.name;
    if (found == outcome.set_cookies.end()) {
      differ(expected.where, subject + ": not among the case's set_cookies");
      continue;
    }
    const auto& decision = found->decision;
    const std::string why = " (" + joined(decision.reasons, "; ") + ")";
    if (expected.action && *expected.action != to_string(decision.action)) {
      differ(expected.where, subject + ": expected " + *expected.action + ", got " +
                                 std::string(to_string(decision.action)) + why);
    }
    if (expected.category) {
      std::string got =
          decision.category ? policy.category_name(*decision.category) : "unclassified";
      if (got != *expected.category) {
        differ(expected.where,
               subject + ": expected category " + *expected.category + ", got " + got + why);
      }
    }
    if (expected.max_age || expected.session) {
      auto want = expected.session ? std::optional<std::int64_t>()
                                   : std::optional<std::int64_t>(expected.max_age->count());
      if (want != decision.enforced_lifetime) {
        differ(expected.where, subject + ": expected max_age " + lifetime_duration(want) +
                                   ", got " + lifetime_duration(decision.enforced_lifetime) + why);
      }
    }
  }
  for (const auto& expected : exchange.expect_request_cookies) {
    auto found = std::find_if(outcome.request_cookies.begin(), outcome.request_cookies.end(),
                              [&](const auto& entry) { return entry.first == expected.subject; });
    if (found == outcome.request_cookies.end()) {
      differ(expected.where, "Cookie " + expected.subject + ": not among the case's cookies");
    } else if (to_string(found->second.action) != expected.outcome) {
      differ(expected.where, "Cookie " + expected.subject + ": expected " + expected.outcome +
                                 ", got " + std::string(to_string(found->second.action)) + " (" +
                                 joined(found->second.reasons, "; ") + ")");
    }
  }
  for (const auto& expected : exchange.expect_embeds) {
    auto found = std::find_if(outcome.embeds.begin(), outcome.embeds.end(),
                              [&](const auto& entry) { return entry.first == expected.subject; });
    if (found == outcome.embeds.end()) {
      differ(expected.where, "Embed " + expected.subject + ": not among the case's embeds");
      continue;
    }
    std::string got = found->second.blocked ? "blocked" : "loaded";
    if (got != expected.outcome) {
      differ(expected.where, "Embed " + expected.subject + ": expected " + expected.outcome +
                                 ", got " + got + " (" + joined(found->second.reasons, "; ") + ")");
    }
  }
  return out;
}

}  // namespace veil::policies
