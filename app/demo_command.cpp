// `veil demo`: the bundled council site behind the proxy with the default policy, on loopback.
#include <boost/program_options.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>

#include "command.hpp"
#include "options.hpp"
#include "serve.hpp"
#include "veil/proxy/demo_origin.hpp"
#include "veil/proxy/edge.hpp"
#include "veil/proxy/filter.hpp"
#include "veil/proxy/server.hpp"

namespace veil::app {
namespace {

namespace po = boost::program_options;

int run_demo(int argc, char** argv) {
  const std::filesystem::path data = VEIL_DATA_DIR;
  const char* tmp = std::getenv("TMPDIR");
  std::string policy = (data / "policies" / "council-default.yaml").string();
  std::string site = (data / "demo" / "site").string();
  std::string access_log =
      (std::filesystem::path(tmp != nullptr ? tmp : "/tmp") / "veil-demo-access.log").string();
  std::string audit_log =
      (std::filesystem::path(tmp != nullptr ? tmp : "/tmp") / "veil-demo-cookie-audit.jsonl")
          .string();
  std::string listen = "127.0.0.1:8080";
  std::string origin = "127.0.0.1:8081";
  std::string admin = "127.0.0.1:9901";
  po::options_description options(
      "veil demo: the bundled council site (origin) behind veil with the default "
      "policy\n\nOptions");
  options.add_options()("help,h", "show this help")(
      "listen", po::value(&listen), "where the proxy listens (default 127.0.0.1:8080)")(
      "origin", po::value(&origin), "where the demo site listens (default 127.0.0.1:8081)")(
      "admin", po::value(&admin), "admin endpoints, or 'off' (default 127.0.0.1:9901)")(
      "policy", po::value(&policy), "policy file (default policies/council-default.yaml)")(
      "site", po::value(&site), "the demo site's files (default demo/site)")(
      "access-log", po::value(&access_log),
      "anonymised access log (default $TMPDIR/veil-demo-access.log)")(
      "audit-log", po::value(&audit_log),
      "cookie audit records (default $TMPDIR/veil-demo-cookie-audit.jsonl)");
  po::variables_map values;
  if (const auto stop = parse_options("veil demo", argc, argv, options, values)) return *stop;

  block_serving_signals();
  try {
    proxy::ServerSettings origin_settings;
    origin_settings.listen = {origin};
    origin_settings.threads = 1;
    auto demo_origin = std::make_shared<proxy::DemoOrigin>(site);
    proxy::Server origin_server(origin_settings,
                                {std::make_shared<proxy::LocalHandlerFilter>(
                                    "/", [demo_origin](const proxy::LocalRequest& request) {
                                      return demo_origin->handle(request);
                                    })});
    origin_server.start();
    const auto origin_port = origin_server.listening_ports().at(0);

    proxy::EdgeOverrides overrides;
    overrides.listen = {listen};
    overrides.upstreams = {
        proxy::parse_upstream_url("http://127.0.0.1:" + std::to_string(origin_port))};
    overrides.upstreams[0].name = "demo-site";
    overrides.admin = admin;
    overrides.access_log = access_log;
    overrides.audit_log = audit_log;
    proxy::Edge edge(policy, overrides);
    for (const auto& warning : edge.start())
      std::fprintf(stderr, "veil demo: %s\n", warning.c_str());

    std::printf("veil demo is running.\n\n");
    std::printf("  Open            http://%s/ (the council site, through veil)\n", listen.c_str());
    std::printf("  Origin          http://%s/ (the same site without veil)\n", origin.c_str());
    if (edge.admin_port()) std::printf("  Metrics         http://%s/metrics\n", admin.c_str());
    std::printf("  Access log      %s (addresses anonymised)\n", edge.access_log_path().c_str());
    std::printf("  Cookie audit    %s (veil audit report %s)\n", audit_log.c_str(),
                audit_log.c_str());
    std::printf("  Policy          %s\n\nPress Ctrl-C to stop.\n", policy.c_str());
    std::fflush(stdout);
    const int status = serve_until_stopped(edge, "veil demo");
    origin_server.stop();
    return status;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "veil demo: %s\n", error.what());
    return 1;
  }
}

const CommandRegistration registration("demo",
                                       "serve the bundled council site behind veil on 127.0.0.1",
                                       run_demo);

}  // namespace
}  // namespace veil::app
