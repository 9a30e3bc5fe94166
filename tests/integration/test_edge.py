"""`veil demo` end to end: the bundled site through the proxy with a policy file, the anonymised
access log, the admin endpoints, SIGHUP reload with a good and a bad policy, SIGUSR1 and SIGTERM."""

import http.client
import json
import os
import re
import signal
import subprocess
import threading
import time
import unittest

import harness

DEFAULT_POLICY = os.path.join(harness.SOURCE_DIR, "policies", "council-default.yaml")
CLIENT = "203.0.113.77"  # what a trusted load balancer says the visitor's address is


def request(port, method="GET", path="/", headers=None, body=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response, data


class StderrReader:
    """Collects a process's standard error in the background so the test can wait for a line."""

    def __init__(self, process):
        self.lines = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, args=(process.stderr,), daemon=True).start()

    def _read(self, stream):
        for raw in stream:
            with self._cond:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._cond.notify_all()

    def wait_for(self, pattern, timeout=15):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if re.search(pattern, line):
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no stderr line matching {pattern!r} in {self.lines}")
                self._cond.wait(remaining)


class EdgeTest(unittest.TestCase):
    def setUp(self):
        self.tmp = harness.temp_dir()
        self.dir = self.tmp.name
        self.policy = os.path.join(self.dir, "policy.yaml")
        with open(DEFAULT_POLICY) as source:
            self.policy_text = source.read().replace(
                "trusted_proxies: []", "trusted_proxies: [127.0.0.1/32]")
        self.assertIn("127.0.0.1/32", self.policy_text)
        with open(self.policy, "w") as out:
            out.write(self.policy_text)
        self.log = os.path.join(self.dir, "access.log")
        self.port, self.origin_port, self.admin_port = (harness.free_port() for _ in range(3))
        self.process = subprocess.Popen(
            [harness.VEIL_BIN, "demo", "--policy", self.policy,
             "--listen", f"127.0.0.1:{self.port}", "--origin", f"127.0.0.1:{self.origin_port}",
             "--admin", f"127.0.0.1:{self.admin_port}", "--access-log", self.log,
             "--audit-log", os.path.join(self.dir, "audit.jsonl")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.stderr = StderrReader(self.process)
        harness.wait_for_port(self.port, process=self.process)
        harness.wait_for_port(self.admin_port, process=self.process)

    def tearDown(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.process.stdout.close()
        self.process.stderr.close()
        self.tmp.cleanup()

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.assertEqual(self.process.wait(timeout=30), 0)

    def read_log(self):
        with open(self.log) as log:
            return log.read()

    def test_site_is_served_and_logged_without_the_client_address(self):
        response, body = request(self.port, path="/bins-and-recycling?postcode=SW1A+1AA",
                                 headers={"X-Forwarded-For": CLIENT, "Referer": "https://x/?email=jo%40example.org"})
        self.assertEqual(response.status, 200)
        self.assertIn(b"<html", body.lower())
        self.stop()
        log = self.read_log()
        lines = log.splitlines()
        self.assertEqual(len(lines), 1, log)
        self.assertTrue(lines[0].startswith("203.0.113.0 - - ["), lines[0])
        self.assertIn('"GET /bins-and-recycling?postcode=[postcode] HTTP/1.1" 200', lines[0])
        self.assertIn("[email]", lines[0])
        for secret in (CLIENT, "SW1A", "jo%40example.org"):
            self.assertNotIn(secret, log)
        self.assertNotIn(CLIENT, "\n".join(self.stderr.lines))

    def test_admin_endpoints_count_the_requests(self):
        for _ in range(3):
            self.assertEqual(request(self.port)[0].status, 200)
        self.assertEqual(request(self.port, path="/no-such-page")[0].status, 404)
        response, body = request(self.admin_port, path="/healthz")
        self.assertEqual(response.status, 200)
        self.assertEqual(request(self.admin_port, path="/readyz")[0].status, 200)
        # An exchange is counted once its last byte has gone out, so the client can be faster.
        def counted():
            text = request(self.admin_port, path="/metrics")[1].decode()
            return all(re.search(rf'veil_http_requests_total\{{[^}}]*class="{status}"[^}}]*\}} {count}\n', text)
                       for status, count in (("2xx", 3), ("4xx", 1)))
        self.assertTrue(harness.wait_until(counted, timeout=10))
        text = request(self.admin_port, path="/metrics")[1].decode()
        self.assertNotIn("127.0.0.1", re.sub(r"(?m)^#.*$", "", text))

    def test_reload_keeps_the_old_policy_when_the_new_one_is_bad(self):
        with open(self.policy, "w") as out:
            out.write(self.policy_text.replace("mode: enforce", "mode: enforced"))
        self.process.send_signal(signal.SIGHUP)
        self.stderr.wait_for(r"policy\.yaml:\d+:\d+: error: .*mode")
        self.stderr.wait_for("policy rejected, the previous one stays")
        before = request(self.port, path="/?before-reload", headers={"X-Forwarded-For": CLIENT})
        self.assertEqual(before[0].status, 200)

        with open(self.policy, "w") as out:
            out.write(self.policy_text.replace("ipv4_prefix: 24", "ipv4_prefix: 16"))
        self.process.send_signal(signal.SIGHUP)
        self.stderr.wait_for("policy reloaded")
        request(self.port, path="/?after-reload", headers={"X-Forwarded-For": CLIENT})
        metrics = request(self.admin_port, path="/metrics")[1].decode()
        self.assertIn('veil_policy_reloads_total{result="ok"} 1', metrics)
        self.assertIn('veil_policy_reloads_total{result="failed"} 1', metrics)
        self.stop()
        # Found by target: two I/O threads may log two exchanges in either order.
        lines = self.read_log().splitlines()
        [kept] = [line for line in lines if "before-reload" in line]
        [reloaded] = [line for line in lines if "after-reload" in line]
        self.assertTrue(kept.startswith("203.0.113.0 "), kept)  # the /24 policy
        self.assertTrue(reloaded.startswith("203.0.0.0 "), reloaded)  # the reloaded /16 one

    def test_sigusr1_reopens_the_access_log(self):
        request(self.port)
        deadline = time.monotonic() + 10
        while not (os.path.exists(self.log) and os.path.getsize(self.log) > 0):
            self.assertLess(time.monotonic(), deadline, "first line never written")
            time.sleep(0.05)
        os.rename(self.log, self.log + ".1")
        self.process.send_signal(signal.SIGUSR1)
        self.stderr.wait_for("reopening the access log")
        request(self.port, path="/bins-and-recycling")
        self.stop()
        with open(self.log + ".1") as old:
            self.assertEqual(len(old.read().splitlines()), 1)
        self.assertIn("/bins-and-recycling", self.read_log())

    def test_sign_in_cookies_are_cut_to_the_promised_lifetimes(self):
        # The demo origin sets ASP.NET_SessionId for 30 days and remember_me for a year; the
        # councils promise two days and two weeks.
        response, _ = request(self.port, "POST", "/sign-in", body="username=a&password=b&remember=on",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(response.status, 303)
        cookies = {c.split("=", 1)[0]: c for c in response.headers.get_all("Set-Cookie")}
        self.assertIn("Max-Age=172800", cookies["ASP.NET_SessionId"])
        self.assertIn("Max-Age=1209600", cookies["remember_me"])
        self.assertIn("private", response.headers.get("Cache-Control", ""))

        # Analytics cookies set by JavaScript, without consent: expired on the next response and
        # kept from the origin.
        response, _ = request(self.port, headers={"Cookie": "_ga=GA1.1.5.6; _ga_XYZ=GS1.1"})
        expired = [c for c in response.headers.get_all("Set-Cookie") if "Max-Age=0" in c]
        self.assertEqual(sorted(c.split("=", 1)[0] for c in expired), ["_ga", "_ga_XYZ"])

        self.stop()
        with open(os.path.join(self.dir, "audit.jsonl")) as audit:
            records = {r["name"]: r for r in map(json.loads, audit)}
        self.assertEqual(records["ASP.NET_SessionId"]["max_requested_lifetime"], 30 * 86400)
        self.assertEqual(records["ASP.NET_SessionId"]["max_enforced_lifetime"], 2 * 86400)
        # Records are keyed by the matching rule's pattern, not by the cookie.
        self.assertEqual(records["remember_(me|token|user_token)"]["max_enforced_lifetime"], 14 * 86400)
        self.assertEqual(records["_ga_*"]["category"], "usage")

    def test_a_bad_policy_at_start_is_refused_with_its_position(self):
        bad = os.path.join(self.dir, "bad.yaml")
        with open(bad, "w") as out:
            out.write("version: 1\nlisten: 127.0.0.1:notaport\n")
        result = harness.veil("demo", "--policy", bad, "--listen", f"127.0.0.1:{harness.free_port()}",
                              "--origin", f"127.0.0.1:{harness.free_port()}", "--admin", "off",
                              timeout=30)
        self.assertEqual(result.returncode, 1)
        self.assertRegex(result.stderr.decode(), r"bad\.yaml:2:\d+: error: ")


if __name__ == "__main__":
    unittest.main()
