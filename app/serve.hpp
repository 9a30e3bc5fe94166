// Running an Edge in the foreground until a signal stops it: shared by `veil proxy` and `veil
// demo`.
#pragma once

namespace veil::proxy {
class Edge;
}

namespace veil::app {

// Blocks SIGTERM, SIGINT, SIGHUP and SIGUSR1 in the calling thread so that threads started
// afterwards inherit the mask and the signals reach serve_until_stopped(). Call before starting any
// server. Also ignores SIGPIPE.
void block_serving_signals();

// Waits for signals: SIGHUP reloads the policy (a bad one is reported and the old one kept),
// SIGUSR1 reopens the access log, SIGTERM/SIGINT drain and stop. `name` prefixes the messages on
// standard error. Returns the exit code (0 after a drain).
int serve_until_stopped(proxy::Edge& edge, const char* name);

}  // namespace veil::app
