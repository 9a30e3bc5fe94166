// The built-in origin that `veil demo` runs on 127.0.0.1:8081: serves the bundled council site
// (demo/site/) and plays its sign-in form, whose response sets the over-long session and "remember
// me" cookies that the proxy's cookie policy then has to cut down.
//
//   GET/HEAD /PATH      the file demo/site/PATH; a directory serves its index.html, and `/PATH`
//                       without an extension also finds `PATH.html` (`/bins-and-recycling`)
//   POST /sign-in       application/x-www-form-urlencoded `username`, `password`, `remember`:
//                       any non-empty username and password "signs in": 303 to `/` with
//                       `ASP.NET_SessionId` (30 days) and, with `remember`, `remember_me` (1 year)
// Paths are percent-decoded, then `.`/`..` segments, NUL and backslashes are refused, and a file
// must resolve inside the site directory: nothing outside it is ever served.
#pragma once

#include <filesystem>

#include "veil/proxy/local_response.hpp"

namespace veil::proxy {

class DemoOrigin {
 public:
  // Throws std::runtime_error when `site_root` is not a readable directory.
  explicit DemoOrigin(const std::filesystem::path& site_root);

  // Thread-safe (reads files per request; the demo site is small).
  LocalResponse handle(const LocalRequest& request) const;

 private:
  LocalResponse serve_file(const LocalRequest& request) const;
  LocalResponse not_found() const;

  std::filesystem::path root_;  // canonical
};

}  // namespace veil::proxy
