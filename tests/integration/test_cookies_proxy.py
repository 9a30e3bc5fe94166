"""The CookiePolicy filter through the real proxy (issue 5): `veil proxy` over HTTPS with the
council default policy in front of an origin (in this test) that sets cookies like council sites
do, including the demo site's sign-in with over-long lifetimes and a "remember me" cookie. Checks
what the browser receives, what the origin receives, the cookie counters on /metrics, the audit
file written at SIGTERM (no cookie value, no address) and `veil audit report` on it."""

import email.utils
import http.client
import http.server
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from audit_report_html import AuditReportTables  # noqa: E402

DEFAULT_POLICY = os.path.join(harness.SOURCE_DIR, "policies", "council-default.yaml")
HOST = "www.example.gov.uk"
CLIENT = "203.0.113.77"  # the visitor, as a trusted load balancer reports it
SECRET = "SECRETVALUE"  # in every cookie value: must never reach the audit file
DAY = 86400

CONSENT_ALL = ('cookies_policy={"essential":true,"settings":true,"usage":true,'
               '"campaigns":true}; cookies_preferences_set=true')
CONSENT_NONE = ('cookies_policy={"essential":true,"settings":false,"usage":false,'
                '"campaigns":false}; cookies_preferences_set=true')

# What the origin sets on /page, as council sites do.
PAGE_SET_COOKIES = [
    f"_ga=GA1.2.{SECRET}1; Max-Age=63072000; Domain=.example.gov.uk; Path=/",  # 2 years
    f"tracker_9f8e7d6c=t{SECRET}2; Path=/",  # no rule knows it
    "=; Max-Age=60",  # a browser ignores it: empty name and value
    f"ARRAffinity=a{SECRET}3; Path=/; HttpOnly",  # essential, no changes asked
]


class Origin(http.server.BaseHTTPRequestHandler):
    """The council's server. Records the Cookie header of every request it receives."""

    received = []  # (path, Cookie header or None)
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, set_cookies, status=200):
        body = b"<!DOCTYPE html><title>Page</title><p>Hello</p>\n"
        self.send_response(status)  # adds Date
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for value in set_cookies:
            self.send_header("Set-Cookie", value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        Origin.received.append((self.path, self.headers.get("Cookie")))
        path = urllib.parse.urlsplit(self.path).path
        if path in ("/page", "/report/page"):
            self.answer(PAGE_SET_COOKIES)
        else:
            self.answer([])

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        Origin.received.append((self.path, self.headers.get("Cookie")))
        # The demo site's sign-in: 30 days and a year, where the council promises 2 and 14 days.
        now = email.utils.parsedate_to_datetime(self.date_time_string()).timestamp()
        session_end = email.utils.formatdate(now + 30 * DAY, usegmt=True)
        remember_end = email.utils.formatdate(now + 365 * DAY, usegmt=True)
        self.answer([f"ASP.NET_SessionId=s{SECRET}4; expires={session_end}; path=/; HttpOnly",
                     f"remember_me=r{SECRET}5; expires={remember_end}; path=/"], status=303)


def parse_set_cookie(value):
    """(name, value, {attribute lower-case: value or True}) of one Set-Cookie."""
    pair, *attributes = [part.strip() for part in value.split(";")]
    name, _, cookie_value = pair.partition("=")
    parsed = {}
    for attribute in attributes:
        key, has_value, attribute_value = attribute.partition("=")
        parsed[key.strip().lower()] = attribute_value.strip() if has_value else True
    return name.strip(), cookie_value.strip(), parsed


def http_seconds(text):
    return int(email.utils.parsedate_to_datetime(text).timestamp())


class CookiesThroughTheProxy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = harness.temp_dir()
        cls.dir = cls._tmp.name
        cls.origin = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Origin)
        threading.Thread(target=cls.origin.serve_forever, daemon=True).start()

        cert, key = os.path.join(cls.dir, "cert.pem"), os.path.join(cls.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "2", "-subj", f"/CN={HOST}"],
                       check=True, capture_output=True, timeout=60)
        os.chmod(key, 0o600)

        cls.audit = os.path.join(cls.dir, "audit.jsonl")
        with open(DEFAULT_POLICY) as source:
            text = source.read()
        replacements = {
            "trusted_proxies: []": "trusted_proxies: [127.0.0.1/32]",
            "path: /var/lib/veil/cookie-audit.jsonl": f"path: {cls.audit}",
        }
        for old, new in replacements.items():
            assert old in text, old
            text = text.replace(old, new)
        text += "\nroutes:\n  - {path: /report/, mode: report-only}\n"
        cls.policy = os.path.join(cls.dir, "policy.yaml")
        with open(cls.policy, "w") as out:
            out.write(text)

        cls.port, cls.admin_port = harness.free_port(), harness.free_port()
        cls.process = subprocess.Popen(
            [harness.VEIL_BIN, "proxy", "--policy", cls.policy,
             "--listen", f"127.0.0.1:{cls.port}",
             "--upstream", f"http://127.0.0.1:{cls.origin.server_address[1]}",
             "--admin", f"127.0.0.1:{cls.admin_port}", "--threads", "2",
             "--access-log", os.path.join(cls.dir, "access.log"),
             "--tls-cert", cert, "--tls-key", key],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        harness.wait_for_port(cls.port, process=cls.process)
        harness.wait_for_port(cls.admin_port, process=cls.process)
        cls.run_exchanges()
        cls.metrics = harness.scrape_metrics(cls.admin_port)
        cls.process.send_signal(signal.SIGTERM)
        cls.exit_code = cls.process.wait(timeout=60)
        cls.stderr = cls.process.stderr.read().decode(errors="replace")
        cls.process.stderr.close()
        cls.origin.shutdown()
        cls.origin.server_close()

    @classmethod
    def tearDownClass(cls):
        if cls.process.poll() is None:
            cls.process.kill()
            cls.process.wait()
        cls._tmp.cleanup()

    @classmethod
    def request(cls, method, path, cookie=None, body=None, headers=None):
        connection = http.client.HTTPSConnection(
            "127.0.0.1", cls.port, timeout=30, context=ssl._create_unverified_context())
        all_headers = {"Host": HOST, "X-Forwarded-For": CLIENT, **(headers or {})}
        if cookie is not None:
            all_headers["Cookie"] = cookie
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        response.read()
        connection.close()
        return response

    @classmethod
    def run_exchanges(cls):
        """Every exchange the tests look at, made once while the proxy runs."""
        Origin.received.clear()
        cls.sign_in = cls.request(
            "POST", "/sign-in", body="username=jo&password=pw&remember=on",
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        cls.page_no_consent = cls.request("GET", "/page")
        cls.page_report_only = cls.request("GET", "/report/page")
        cls.page_consented = cls.request("GET", "/page?consented", cookie=CONSENT_ALL)
        cls.withdrawn = cls.request(
            "GET", "/other", cookie=f"{CONSENT_NONE}; _ga=GA1.2.{SECRET}6; "
            f"_ga_ABC123=GS1.{SECRET}7; ASP.NET_SessionId=s{SECRET}8; __Secure-x9=z{SECRET}9")
        cls.consent_post = cls.request(
            "POST", "/_veil/consent?return=/page", cookie=f"{CONSENT_ALL}; _ga=GA1.2.{SECRET}10",
            body="action=reject", headers={"Content-Type": "application/x-www-form-urlencoded"})
        cls.received = list(Origin.received)

    def set_cookies(self, response):
        return [parse_set_cookie(value) for value in response.headers.get_all("Set-Cookie") or []]

    def named(self, response, name):
        found = [c for c in self.set_cookies(response) if c[0] == name]
        self.assertEqual(len(found), 1, f"{name} in {response.headers.get_all('Set-Cookie')}")
        return found[0]

    def assert_capped(self, response, name, days):
        _, _, attributes = self.named(response, name)
        self.assertEqual(attributes["max-age"], str(days * DAY))
        date = http_seconds(response.headers["Date"])
        self.assertEqual(http_seconds(attributes["expires"]), date + days * DAY)

    def deletions(self, response):
        return sorted((name, attributes.get("domain", "(host-only)"))
                      for name, value, attributes in self.set_cookies(response)
                      if attributes.get("max-age") == "0" and value == "")

    def test_proxy_stopped_cleanly(self):
        self.assertEqual(self.exit_code, 0, self.stderr)
        self.assertNotIn(CLIENT, self.stderr)

    def test_sign_in_lifetimes_are_capped_and_attributes_added(self):
        self.assertEqual(self.sign_in.status, 303)
        self.assert_capped(self.sign_in, "ASP.NET_SessionId", 2)
        self.assert_capped(self.sign_in, "remember_me", 14)
        for name in ("ASP.NET_SessionId", "remember_me"):
            _, value, attributes = self.named(self.sign_in, name)
            self.assertIn(SECRET, value)  # the value itself passes untouched
            self.assertIs(attributes.get("secure"), True)  # added on HTTPS
            self.assertIs(attributes.get("httponly"), True)
            self.assertEqual(attributes.get("samesite"), "Lax")
        self.assertIn("private", self.sign_in.headers["Cache-Control"])

    def test_enforce_removes_unconsented_unclassified_and_unparseable(self):
        names = [name for name, _, _ in self.set_cookies(self.page_no_consent)]
        self.assertEqual(names, ["ARRAffinity"])
        _, _, attributes = self.named(self.page_no_consent, "ARRAffinity")
        self.assertEqual(attributes, {"path": "/", "httponly": True})

    def test_report_only_keeps_every_set_cookie(self):
        self.assertEqual(self.page_report_only.headers.get_all("Set-Cookie"), PAGE_SET_COOKIES)

    def test_consented_cookie_is_kept_with_its_lifetime_capped(self):
        names = sorted(name for name, _, _ in self.set_cookies(self.page_consented))
        self.assertEqual(names, ["ARRAffinity", "_ga"])
        self.assert_capped(self.page_consented, "_ga", 13 * 30)
        _, _, attributes = self.named(self.page_consented, "_ga")
        self.assertEqual(attributes["domain"], ".example.gov.uk")

    def test_withdrawn_cookies_are_stripped_upstream_and_expired_on_every_domain(self):
        cookie = dict(self.received)["/other"]
        self.assertEqual(cookie, f"{CONSENT_NONE}; ASP.NET_SessionId=s{SECRET}8")
        expected = sorted((name, domain) for name in ("_ga", "_ga_ABC123", "__Secure-x9")
                          for domain in ("(host-only)", "example.gov.uk", HOST))
        self.assertEqual(self.deletions(self.withdrawn), expected)
        for name, _, attributes in self.set_cookies(self.withdrawn):
            self.assertEqual(attributes["path"], "/")
            self.assertEqual(http_seconds(attributes["expires"]), 0)
            if name.startswith("__Secure-"):
                self.assertIs(attributes.get("secure"), True)

    def test_withdrawing_consent_expires_on_the_consent_response_itself(self):
        self.assertEqual(self.consent_post.status, 303)
        _, value, _ = self.named(self.consent_post, "cookies_policy")
        self.assertIn('"usage":false', urllib.parse.unquote(value))
        self.assertEqual(self.deletions(self.consent_post),
                         [("_ga", "(host-only)"), ("_ga", "example.gov.uk"), ("_ga", HOST)])
        # Answered by veil itself: the origin never saw it.
        self.assertNotIn("/_veil/consent?return=/page", dict(self.received))

    def test_metrics_count_cookies_by_category(self):
        def value(name, **labels):
            key = name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
            return self.metrics.get(key, 0)

        # Three responses set _ga (usage): removed without consent (enforce), would have been in
        # report-only, capped with consent. tracker_* and the unparseable one go twice in enforce
        # mode.
        self.assertEqual(value("veil_cookies_seen_total", category="usage", source="set_cookie"),
                         3)
        self.assertEqual(value("veil_cookies_removed_total", category="usage", mode="enforce"), 1)
        self.assertEqual(value("veil_cookies_removed_total", category="usage",
                               mode="report-only"), 1)
        self.assertEqual(value("veil_cookies_removed_total", category="unclassified",
                               mode="enforce"), 2)
        self.assertEqual(value("veil_cookies_capped_total", category="usage", mode="enforce"), 1)
        self.assertEqual(value("veil_cookies_capped_total", category="essential",
                               mode="enforce"), 2)
        self.assertEqual(value("veil_cookies_expired_total", category="usage", mode="enforce"), 3)
        self.assertEqual(value("veil_set_cookie_unparseable_total", mode="enforce"), 2)
        self.assertEqual(value("veil_set_cookie_unparseable_total", mode="report-only"), 1)

    def read_audit(self):
        with open(self.audit) as audit:
            text = audit.read()
        return text, [json.loads(line) for line in text.splitlines() if line.strip()]

    def test_audit_file_holds_no_values_and_no_addresses(self):
        text, records = self.read_audit()
        self.assertTrue(records)
        for secret in (SECRET, "GA1.2", CLIENT, "127.0.0.1", "9f8e7d6c", "ABC123"):
            self.assertNotIn(secret, text)
        by_name = {}
        for record in records:
            by_name.setdefault(record["name"], []).append(record)
        self.assertIn("ASP.NET_SessionId", by_name)
        self.assertIn("tracker_*", by_name)  # generalised, unclassified
        self.assertIn("_ga_*", by_name)  # the rule's pattern
        session = by_name["ASP.NET_SessionId"]
        self.assertEqual(sum(r["violations"].get("lifetime_over_policy", 0) for r in session), 1)
        tracker = by_name["tracker_*"]
        self.assertGreaterEqual(sum(r["violations"].get("unclassified", 0) for r in tracker), 2)

    def test_audit_report_lists_every_observed_cookie_once(self):
        _, records = self.read_audit()
        observed = {record["name"] for record in records}
        self.assertIn("(unparseable)", observed)
        out = os.path.join(self.dir, "cookies.html")
        result = harness.veil("audit", "report", self.audit, "--policy", self.policy, "-o", out)
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        with open(out) as page:
            text = page.read()
        parser = AuditReportTables()
        parser.feed(text)
        cookie_tables = [rows for caption, rows in parser.tables if caption.endswith(" cookies")]
        names = [name for rows in cookie_tables for name in rows]
        # A Set-Cookie no browser could read has no name: it is listed as a violation only.
        self.assertEqual(sorted(names), sorted(observed - {"(unparseable)"}))
        violations = [rows for caption, rows in parser.tables
                      if caption == "Cookies that broke the policy"]
        self.assertEqual(len(violations), 1)
        self.assertTrue({"ASP.NET_SessionId", "tracker_*", "_ga", "(unparseable)"}
                        <= set(violations[0]))
        for secret in (SECRET, CLIENT):
            self.assertNotIn(secret, text)

        markdown = harness.veil("audit", "report", self.audit, "--format", "markdown",
                                "--policy", self.policy)
        self.assertEqual(markdown.returncode, 0, markdown.stderr.decode())
        self.assertIn("## Violations", markdown.stdout.decode())
        self.assertIn("ASP.NET\\_SessionId", markdown.stdout.decode())

        report = json.loads(harness.veil("audit", "report", self.audit, "--format", "json",
                                         check=True).stdout)
        self.assertEqual({r["name"] for r in report["records"]}, observed)
        self.assertIn("tracker_*", {v["name"] for v in report["violations"]})


if __name__ == "__main__":
    unittest.main()
