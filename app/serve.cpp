#include "serve.hpp"

#include <pthread.h>
#include <signal.h>

#include <cstdio>

#include "veil/proxy/edge.hpp"

namespace veil::app {
namespace {

sigset_t serving_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  for (int signal : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&signals, signal);
  return signals;
}

}  // namespace

void block_serving_signals() {
  const sigset_t signals = serving_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Over RLIMIT_FSIZE a write then fails with EFBIG, which the log and audit writers handle,
  // instead of the signal killing the process.
  signal(SIGXFSZ, SIG_IGN);
}

int serve_until_stopped(proxy::Edge& edge, const char* name) {
  const sigset_t signals = serving_signals();
  for (;;) {
    int received = 0;
    if (sigwait(&signals, &received) != 0) continue;
    if (received == SIGHUP) {
      const auto result = edge.reload();
      for (const auto& message : result.messages) std::fprintf(stderr, "%s\n", message.c_str());
      std::fprintf(stderr, "%s: SIGHUP: %s\n", name,
                   result.applied ? "policy reloaded" : "policy rejected, the previous one stays");
    } else if (received == SIGUSR1) {
      edge.reopen_logs();
      std::fprintf(stderr, "%s: SIGUSR1: reopening the access log\n", name);
    } else {
      std::fprintf(stderr, "%s: %s, draining\n", name, received == SIGTERM ? "SIGTERM" : "SIGINT");
      if (!edge.drain(edge.drain_timeout())) {
        std::fprintf(stderr, "%s: drain deadline passed; closing the remaining connections\n",
                     name);
      }
      edge.stop();
      return 0;
    }
  }
}

}  // namespace veil::app
