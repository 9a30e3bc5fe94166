// `veil audit report FILE...`: the "cookies we use" table (GOV.UK cookies-page shape) and the
// violations, from the JSON-lines audit files the proxies write.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "command.hpp"
#include "veil/policies/loader.hpp"
#include "veil/proxy/cookie_audit.hpp"
#include "veil/proxy/html_rewriter.hpp"

namespace veil::app {
namespace {

using proxy::CookieAuditRecord;
using proxy::CookieViolation;

constexpr const char* kUsage =
    "Usage:\n"
    "  veil audit report FILE... [--policy FILE] [--format html|markdown|json] [-o OUT]\n"
    "      Merges cookie audit files (JSON lines written by `veil proxy`) and prints the\n"
    "      \"cookies we use\" table per category, then the violations. With --policy, each\n"
    "      cookie's provider and purpose come from the rule that matched it. Default: html to\n"
    "      standard output.\n"
    "Exit status: 0 done, 1 an unreadable or invalid file, 2 usage.\n";

struct Options {
  std::vector<std::string> files;
  std::string policy_file;
  std::string format = "html";
  std::string output;
};

// One row of the published table: a cookie (name pattern) in one category.
struct Row {
  std::string name, provider, purpose, expiry, how_set;
  std::set<std::string> domains;
  std::uint64_t seen = 0;
};

struct Section {
  std::string category, description;
  std::vector<Row> rows;
};

struct Violation {
  std::string name, domain, path, kind, rule;
  std::uint64_t count = 0;
};

struct Report {
  std::vector<Section> sections;
  std::vector<Violation> violations;
  std::vector<CookieAuditRecord> records;
};

std::string_view describe(CookieViolation violation) {
  switch (violation) {
    case CookieViolation::unclassified:
      return "no policy rule matches this cookie";
    case CookieViolation::set_before_consent:
      return "set or sent without the visitor's consent";
    case CookieViolation::lifetime_over_policy:
      return "asked for a longer lifetime than the policy allows";
    case CookieViolation::missing_secure:
      return "set without Secure, which the policy requires";
    case CookieViolation::missing_http_only:
      return "set without HttpOnly, which the policy requires";
    case CookieViolation::unparseable:
      return "a Set-Cookie header browsers cannot read";
  }
  return "";
}

std::string plural(std::int64_t count, std::string_view unit) {
  return std::to_string(count) + " " + std::string(unit) + (count == 1 ? "" : "s");
}

// "13 months", "2 days".
std::string duration_text(std::int64_t seconds) {
  constexpr std::int64_t kDay = 86400;
  if (seconds >= 365 * kDay && seconds % (365 * kDay) == 0)
    return plural(seconds / (365 * kDay), "year");
  if (seconds >= 30 * kDay) return plural(seconds / (30 * kDay), "month");
  if (seconds >= kDay) return plural(seconds / kDay, "day");
  if (seconds >= 3600) return plural(seconds / 3600, "hour");
  if (seconds >= 60) return plural(seconds / 60, "minute");
  return plural(std::max<std::int64_t>(seconds, 0), "second");
}

// What a cookie's Set-Cookies asked for once enforced; for a cookie written by JavaScript, the
// policy's cap (the browser is asked to expire it beyond that).
std::string expiry_text(const CookieAuditRecord& record, const policies::CookieRule* rule) {
  if (record.set_by_server == 0) {
    if (rule != nullptr && rule->max_age) return "Up to " + duration_text(rule->max_age->count());
    return "Unknown (set by JavaScript)";
  }
  if (!record.max_enforced_lifetime) return "When you close your browser";
  return duration_text(*record.max_enforced_lifetime);
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "veil audit: %s\n%s", message.c_str(), kUsage);
  return 2;
}

// Reads and merges every file; throws std::runtime_error "file:line: ..." for a bad line.
std::vector<CookieAuditRecord> read_records(const std::vector<std::string>& files) {
  std::map<std::tuple<std::string, std::string, std::string>, CookieAuditRecord> merged;
  for (const auto& file : files) {
    std::ifstream in(file);
    if (!in) throw std::runtime_error(file + ": cannot read: " + std::strerror(errno));
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      CookieAuditRecord record;
      try {
        record = proxy::parse_audit_line(line);
      } catch (const std::invalid_argument& problem) {
        throw std::runtime_error(file + ":" + std::to_string(number) +
                                 ": error: not an audit record: " + problem.what());
      }
      auto key = std::make_tuple(record.name_pattern, record.domain, record.path);
      auto [entry, inserted] = merged.try_emplace(std::move(key), record);
      if (!inserted) entry->second.merge(record);
    }
    if (in.bad()) throw std::runtime_error(file + ": read error");
  }
  std::vector<CookieAuditRecord> records;
  for (auto& entry : merged) records.push_back(std::move(entry.second));
  return records;
}

const policies::CookieRule* rule_for(const policies::Policy* policy,
                                     const CookieAuditRecord& record) {
  if (policy == nullptr || record.rule.empty()) return nullptr;
  const policies::CookieRule* same_pattern = nullptr;
  for (const auto& rule : policy->cookies.rules) {
    if (rule.pattern != record.name_pattern) continue;
    if (policies::to_string(rule.where) == record.rule) return &rule;
    if (same_pattern == nullptr) same_pattern = &rule;
  }
  return same_pattern;
}

Report build_report(std::vector<CookieAuditRecord> records, const policies::Policy* policy) {
  Report report;
  std::map<std::string, std::size_t> section_of;  // category name → index
  const auto section = [&](const std::string& category) -> Section& {
    auto found = section_of.find(category);
    if (found != section_of.end()) return report.sections[found->second];
    Section fresh;
    fresh.category = category.empty() ? "unclassified" : category;
    if (category.empty()) {
      fresh.description = "Cookies no rule of the policy describes.";
    } else if (policy != nullptr) {
      if (auto id = policy->category_id(category)) {
        fresh.description = policy->consent.categories[*id].description;
      }
    }
    section_of.emplace(category, report.sections.size());
    report.sections.push_back(std::move(fresh));
    return report.sections.back();
  };
  if (policy != nullptr) {
    for (const auto& category : policy->consent.categories) section(category.name);
  }

  // A cookie seen only in requests on one key and in Set-Cookie on another (a parent domain) is
  // still server-set.
  std::set<std::string> server_set;
  for (const auto& record : records) {
    if (record.set_by_server > 0) server_set.insert(record.name_pattern);
  }
  std::map<std::pair<std::string, std::string>, Row> rows;  // (category, name)
  for (const auto& record : records) {
    if (record.name_pattern == "(unparseable)") continue;  // listed with the violations only
    Row& row = rows[{record.category, record.name_pattern}];
    const auto* rule = rule_for(policy, record);
    if (row.name.empty()) {
      row.name = record.name_pattern;
      row.provider = rule != nullptr && !rule->provider.empty() ? rule->provider : "Unknown";
      row.purpose = rule != nullptr && !rule->description.empty() ? rule->description
                                                                  : "Not described in the policy";
      row.how_set = server_set.contains(record.name_pattern) ? "server" : "javascript";
    }
    // The longest lifetime among the cookie's keys is what the table promises.
    CookieAuditRecord longest = record;
    for (const auto& other : records) {
      if (&other != &record && other.name_pattern == record.name_pattern &&
          other.category == record.category) {
        longest.merge(other);
      }
    }
    row.expiry = expiry_text(longest, rule);
    row.domains.insert(record.domain);
    row.seen += record.seen;
  }
  for (auto& [key, row] : rows) section(key.first).rows.push_back(std::move(row));
  std::erase_if(report.sections,
                [](const Section& s) { return s.rows.empty() && s.category == "unclassified"; });

  for (const auto& record : records) {
    for (std::size_t i = 0; i < proxy::kCookieViolationKinds; ++i) {
      if (record.violations[i] == 0) continue;
      const auto kind = static_cast<CookieViolation>(i);
      report.violations.push_back({record.name_pattern, record.domain, record.path,
                                   std::string(describe(kind)), record.rule, record.violations[i]});
    }
  }
  report.records = std::move(records);
  return report;
}

std::string capitalised(std::string text) {
  if (!text.empty() && text[0] >= 'a' && text[0] <= 'z') text[0] = static_cast<char>(text[0] - 32);
  return text;
}

std::string render_html(const Report& report) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>Cookies we use</title>\n<style>\n"
      "body{font-family:Arial,sans-serif;font-size:19px;line-height:1.3;color:#0b0c0c;"
      "margin:0 auto;max-width:960px;padding:0 15px}\n"
      "table{border-collapse:collapse;width:100%;margin-bottom:30px}\n"
      "caption{text-align:left;font-weight:bold;font-size:22px;padding-bottom:10px}\n"
      "th,td{text-align:left;vertical-align:top;border-bottom:1px solid #b1b4b6;padding:10px 20px "
      "10px 0}\n"
      "a:focus{outline:3px solid #fd0;background:#fd0}\n</style>\n</head>\n<body>\n<main>\n"
      "<h1>Cookies we use</h1>\n"
      "<p>Cookies are small files saved on your phone, tablet or computer when you visit a "
      "website. This list is generated from the cookies our website was observed to use.</p>\n";
  for (const auto& section : report.sections) {
    const std::string title = capitalised(section.category) + " cookies";
    out += "<h2>" + proxy::html_escaped(title) + "</h2>\n";
    if (!section.description.empty())
      out += "<p>" + proxy::html_escaped(section.description) + "</p>\n";
    if (section.rows.empty()) {
      out += "<p>We have not observed any cookies in this category.</p>\n";
      continue;
    }
    out += "<table>\n<caption>" + proxy::html_escaped(title) +
           "</caption>\n<thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Provider</th>"
           "<th scope=\"col\">Purpose</th><th scope=\"col\">Expires</th></tr></thead>\n<tbody>\n";
    for (const auto& row : section.rows) {
      out += "<tr><th scope=\"row\">" + proxy::html_escaped(row.name) + "</th><td>" +
             proxy::html_escaped(row.provider) + "</td><td>" + proxy::html_escaped(row.purpose) +
             "</td><td>" + proxy::html_escaped(row.expiry) + "</td></tr>\n";
    }
    out += "</tbody>\n</table>\n";
  }
  out += "<h2>Violations</h2>\n";
  if (report.violations.empty()) {
    out += "<p>No violations observed.</p>\n";
  } else {
    out +=
        "<table>\n<caption>Cookies that broke the policy</caption>\n<thead><tr>"
        "<th scope=\"col\">Name</th><th scope=\"col\">Domain</th><th scope=\"col\">Path</th>"
        "<th scope=\"col\">Problem</th><th scope=\"col\">Times</th><th scope=\"col\">Rule</th>"
        "</tr></thead>\n<tbody>\n";
    for (const auto& v : report.violations) {
      out += "<tr><th scope=\"row\">" + proxy::html_escaped(v.name) + "</th><td>" +
             proxy::html_escaped(v.domain) + "</td><td>" + proxy::html_escaped(v.path) +
             "</td><td>" + proxy::html_escaped(v.kind) + "</td><td>" + std::to_string(v.count) +
             "</td><td>" + proxy::html_escaped(v.rule) + "</td></tr>\n";
    }
    out += "</tbody>\n</table>\n";
  }
  out += "</main>\n</body>\n</html>\n";
  return out;
}

std::string markdown_cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|' || c == '\\' || c == '*' || c == '_' || c == '`' || c == '<' || c == '[') {
      out.push_back('\\');
    }
    out.push_back(c == '\n' || c == '\r' ? ' ' : c);
  }
  return out;
}

std::string render_markdown(const Report& report) {
  std::string out = "# Cookies we use\n";
  for (const auto& section : report.sections) {
    out += "\n## " + markdown_cell(capitalised(section.category) + " cookies") + "\n\n";
    if (!section.description.empty()) out += markdown_cell(section.description) + "\n\n";
    if (section.rows.empty()) {
      out += "We have not observed any cookies in this category.\n";
      continue;
    }
    out += "| Name | Provider | Purpose | Expires |\n| --- | --- | --- | --- |\n";
    for (const auto& row : section.rows) {
      out += "| " + markdown_cell(row.name) + " | " + markdown_cell(row.provider) + " | " +
             markdown_cell(row.purpose) + " | " + markdown_cell(row.expiry) + " |\n";
    }
  }
  out += "\n## Violations\n\n";
  if (report.violations.empty()) return out + "No violations observed.\n";
  out +=
      "| Name | Domain | Path | Problem | Times | Rule |\n| --- | --- | --- | --- | --- | --- |\n";
  for (const auto& v : report.violations) {
    out += "| " + markdown_cell(v.name) + " | " + markdown_cell(v.domain) + " | " +
           markdown_cell(v.path) + " | " + markdown_cell(v.kind) + " | " + std::to_string(v.count) +
           " | " + markdown_cell(v.rule) + " |\n";
  }
  return out;
}

std::string render_json(const Report& report) {
  namespace json = boost::json;
  json::array categories;
  for (const auto& section : report.sections) {
    json::array cookies;
    for (const auto& row : section.rows) {
      json::array domains;
      for (const auto& domain : row.domains) domains.emplace_back(domain);
      cookies.emplace_back(json::object{{"name", row.name},
                                        {"provider", row.provider},
                                        {"purpose", row.purpose},
                                        {"expiry", row.expiry},
                                        {"how_set", row.how_set},
                                        {"domains", std::move(domains)},
                                        {"seen", row.seen}});
    }
    categories.emplace_back(json::object{{"category", section.category},
                                         {"description", section.description},
                                         {"cookies", std::move(cookies)}});
  }
  json::array violations;
  for (const auto& v : report.violations) {
    violations.emplace_back(json::object{{"name", v.name},
                                         {"domain", v.domain},
                                         {"path", v.path},
                                         {"problem", v.kind},
                                         {"rule", v.rule},
                                         {"count", v.count}});
  }
  json::array records;
  for (const auto& record : report.records) {
    records.emplace_back(json::parse(proxy::to_json_line(record)));
  }
  return json::serialize(json::object{{"categories", std::move(categories)},
                                      {"violations", std::move(violations)},
                                      {"records", std::move(records)}}) +
         "\n";
}

int run_report(const Options& options) {
  std::shared_ptr<const policies::Policy> policy;
  if (!options.policy_file.empty()) {
    auto loaded = policies::load_policy(options.policy_file);
    for (const auto& diagnostic : loaded.diagnostics) {
      if (diagnostic.severity == policies::Diagnostic::Severity::error) {
        std::fprintf(stderr, "%s\n", policies::to_string(diagnostic).c_str());
      }
    }
    if (!loaded.ok()) return 1;
    policy = loaded.policy;
  }
  std::string text;
  try {
    auto report = build_report(read_records(options.files), policy.get());
    text = options.format == "html"       ? render_html(report)
           : options.format == "markdown" ? render_markdown(report)
                                          : render_json(report);
  } catch (const std::runtime_error& problem) {
    std::fprintf(stderr, "veil audit report: %s\n", problem.what());
    return 1;
  }
  if (options.output.empty() || options.output == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  std::ofstream out(options.output, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    std::fprintf(stderr, "veil audit report: %s: cannot write\n", options.output.c_str());
    return 1;
  }
  return 0;
}

int audit_main(int argc, char** argv) {
  if (argc < 2) return usage_error("no action given");
  const std::string_view action = argv[1];
  if (action == "--help" || action == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (action != "report") return usage_error("unknown action '" + std::string(action) + "'");
  Options options;
  for (int i = 2; i < argc; ++i) {
    const std::string_view argument = argv[i];
    const auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    if (argument == "--help" || argument == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (argument == "--policy" || argument == "--format" || argument == "-o" ||
        argument == "--output") {
      auto given = value();
      if (!given) return usage_error(std::string(argument) + " needs a value");
      if (argument == "--policy") options.policy_file = *given;
      if (argument == "--format") options.format = *given;
      if (argument == "-o" || argument == "--output") options.output = *given;
    } else if (argument.starts_with("-") && argument != "-") {
      return usage_error("unknown option '" + std::string(argument) + "'");
    } else {
      options.files.emplace_back(argument);
    }
  }
  if (options.format != "html" && options.format != "markdown" && options.format != "json") {
    return usage_error("--format must be html, markdown or json, not '" + options.format + "'");
  }
  if (options.files.empty()) return usage_error("no audit file given");
  return run_report(options);
}

const CommandRegistration registration{"audit", "render the cookie audit as a cookies page",
                                       audit_main};

}  // namespace
}  // namespace veil::app
