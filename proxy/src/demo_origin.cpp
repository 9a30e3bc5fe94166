#include "veil/proxy/demo_origin.hpp"

#include "veil/policies/percent_decode.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "text.hpp"
#include "veil/policies/http_date.hpp"

namespace veil::proxy {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kSignInPath = "/sign-in";
constexpr auto kSessionLifetime = std::chrono::days(30);
constexpr auto kRememberLifetime = std::chrono::days(365);

std::string_view header_value(const LocalRequest& request, std::string_view name) {
  for (const auto& [key, value] : request.headers) {
    if (iequals(key, name)) return value;
  }
  return {};
}

// The value of `name` in an application/x-www-form-urlencoded body ("" when absent or malformed).
std::string form_field(std::string_view body, std::string_view name) {
  while (!body.empty()) {
    const auto amp = body.find('&');
    const auto pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
    const auto equals = pair.find('=');
    const auto key = policies::percent_decode(pair.substr(0, equals), true);
    if (key && *key == name) {
      if (equals == std::string_view::npos) return {};
      return policies::percent_decode(pair.substr(equals + 1), true).value_or("");
    }
  }
  return {};
}

std::string_view content_type_for(const fs::path& file) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 11> kTypes{{
      {".html", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"},
      {".json", "application/json"},
      {".xml", "application/xml"},
      {".woff2", "font/woff2"},
  }};
  const auto extension = file.extension().string();
  for (const auto& [suffix, type] : kTypes) {
    if (iequals(extension, suffix)) return type;
  }
  return "application/octet-stream";
}

std::optional<std::string> read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

LocalResponse html_response(unsigned status, std::string body) {
  LocalResponse response;
  response.status = status;
  response.headers = {{"Content-Type", "text/html; charset=utf-8"}};
  response.body = std::move(body);
  return response;
}

// A fresh session identifier: 24 hex digits from the system's random source.
std::string session_token() {
  std::random_device random;
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string token;
  for (int i = 0; i < 24; ++i) token += kDigits[random() % 16];
  return token;
}

// Like many council sites, the demo's sign-in sets its cookies for far longer than its privacy
// notice promises (two days; two weeks with "remember me"): the cookie policy must cut them down.
LocalResponse sign_in(const LocalRequest& request) {
  const auto type = header_value(request, "Content-Type");
  if (!iequals(type.substr(0, type.find(';')), "application/x-www-form-urlencoded")) {
    auto response = html_response(415,
                                  "<!DOCTYPE html><title>Unsupported form</title>\n"
                                  "<p>The sign-in form posts application/"
                                  "x-www-form-urlencoded.</p>\n");
    response.headers.emplace_back("Accept-Post", "application/x-www-form-urlencoded");
    return response;
  }
  const auto username = form_field(request.body, "username");
  const auto password = form_field(request.body, "password");
  if (username.empty() || password.empty()) {
    return html_response(400,
                         "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                         "<title>There is a problem - Sign in</title>"
                         "<link rel=\"stylesheet\" href=\"/assets/council.css\"></head>\n"
                         "<body><main class=\"container\" id=\"main-content\">"
                         "<div class=\"error-summary\" role=\"alert\"><h1>There is a problem</h1>"
                         "<p>Enter your username and your password.</p></div>"
                         "<p><a href=\"/sign-in\">Back to sign in</a></p></main></body></html>\n");
  }
  const auto now =
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  LocalResponse response;
  response.status = 303;
  response.headers = {
      {"Location", "/"},
      {"Content-Type", "text/html; charset=utf-8"},
      {"Set-Cookie", "ASP.NET_SessionId=" + session_token() + "; expires=" +
                         policies::format_http_date(now + kSessionLifetime) + "; path=/; HttpOnly"},
  };
  const auto remember = form_field(request.body, "remember");
  if (remember == "on" || remember == "yes" || remember == "true") {
    response.headers.emplace_back(
        "Set-Cookie", "remember_me=" + session_token() + "; expires=" +
                          policies::format_http_date(now + kRememberLifetime) + "; path=/");
  }
  response.body = "<!DOCTYPE html><title>Signed in</title><p><a href=\"/\">Continue</a></p>\n";
  return response;
}

}  // namespace

DemoOrigin::DemoOrigin(const fs::path& site_root) {
  std::error_code error;
  root_ = fs::canonical(site_root, error);
  if (error || !fs::is_directory(root_, error)) {
    throw std::runtime_error("demo site " + site_root.string() + ": not a directory (" +
                             (error ? error.message() : "not found") + ")");
  }
}

LocalResponse DemoOrigin::handle(const LocalRequest& request) const {
  const std::string_view target = request.target;
  const auto path = target.substr(0, target.find_first_of("?#"));
  if (path == kSignInPath && request.method == "POST") return sign_in(request);
  if (request.method != "GET" && request.method != "HEAD") {
    auto response = html_response(405, "<!DOCTYPE html><title>Method not allowed</title>\n");
    response.headers.emplace_back("Allow", path == kSignInPath ? "GET, HEAD, POST" : "GET, HEAD");
    return response;
  }
  return serve_file(request);
}

LocalResponse DemoOrigin::serve_file(const LocalRequest& request) const {
  const std::string_view target = request.target;
  const auto decoded =
      policies::percent_decode(target.substr(0, target.find_first_of("?#")), false);
  if (!decoded || decoded->empty() || decoded->front() != '/') {
    return html_response(400, "<!DOCTYPE html><title>Bad request</title>\n");
  }
  fs::path relative;
  std::string_view rest = *decoded;
  while (!rest.empty()) {
    const auto slash = rest.find('/');
    const auto segment = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (segment.empty()) continue;
    if (segment == "." || segment == ".." || segment.find('\0') != std::string_view::npos ||
        segment.find('\\') != std::string_view::npos) {
      return not_found();
    }
    relative /= fs::path(segment);
  }

  std::error_code error;
  auto file = root_ / relative;
  if (fs::is_directory(file, error)) {
    file /= "index.html";
  } else if (!fs::exists(file, error) && !relative.empty() && !relative.has_extension()) {
    file += ".html";
  }
  // Symbolic links could still lead out of the site: the resolved file must be inside it.
  const auto resolved = fs::canonical(file, error);
  if (error || !fs::is_regular_file(resolved, error)) return not_found();
  const auto inside = std::mismatch(root_.begin(), root_.end(), resolved.begin(), resolved.end());
  if (inside.first != root_.end()) return not_found();

  auto body = read_file(resolved);
  if (!body) return not_found();
  LocalResponse response;
  response.status = 200;
  response.headers = {{"Content-Type", std::string(content_type_for(resolved))}};
  response.body = std::move(*body);
  return response;
}

LocalResponse DemoOrigin::not_found() const {
  auto page = read_file(root_ / "404.html");
  return html_response(
      404, page ? std::move(*page) : std::string("<!DOCTYPE html><title>Page not found</title>\n"));
}

}  // namespace veil::proxy
