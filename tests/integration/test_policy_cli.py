"""`veil policy check|explain|test` end to end through the built binary."""

import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

POLICIES = os.path.join(harness.SOURCE_DIR, "policies")


def write(directory, name, text, mode=0o644):
    path = os.path.join(directory, name)
    with open(path, "w") as out:
        out.write(text)
    os.chmod(path, mode)
    return path


class PolicyCheck(unittest.TestCase):
    def test_shipped_policies_are_valid(self):
        for name in ("council-default.yaml", "report-only.yaml"):
            with self.subTest(name=name):
                result = harness.veil("policy", "check", os.path.join(POLICIES, name))
                self.assertEqual(result.returncode, 0, result.stderr.decode())
                self.assertEqual(result.stderr, b"")
                self.assertIn(b"valid", result.stdout)

    def test_strict_policy_is_valid_with_its_key_beside_it(self):
        with harness.temp_dir() as directory:
            shutil.copy(os.path.join(POLICIES, "strict.yaml"), directory)
            policy = os.path.join(directory, "strict.yaml")
            missing = harness.veil("policy", "check", policy)
            self.assertEqual(missing.returncode, 1)
            self.assertIn(b"anonymise.key' for 'anonymise.key_file' does not exist", missing.stderr)
            write(directory, "anonymise.key", os.urandom(32).hex() + "\n", 0o600)
            result = harness.veil("policy", "check", policy)
            self.assertEqual(result.returncode, 0, result.stderr.decode())

    def test_errors_and_warnings_go_to_stderr_with_positions(self):
        with harness.temp_dir() as directory:
            bad = write(directory, "bad.yaml", "version: 1\nlsten: 0.0.0.0:80\n")
            risky = write(directory, "risky.yaml", "version: 1\nforward_client_ip: real\n")
            good = os.path.join(POLICIES, "council-default.yaml")
            result = harness.veil("policy", "check", good, bad, risky)
            self.assertEqual(result.returncode, 1)
            stderr = result.stderr.decode().splitlines()
            self.assertEqual(stderr, [
                f"{bad}:2:1: error: unknown key 'lsten'; did you mean 'listen'?",
                f"{risky}:2:20: warning: 'forward_client_ip: real' sends every visitor's raw address "
                "to the origin, and no 'trusted_proxies' are set",
            ])
            # Warnings alone do not fail the check.
            self.assertEqual(harness.veil("policy", "check", risky).returncode, 0)

    def test_usage_errors_exit_2(self):
        self.assertEqual(harness.veil("policy").returncode, 2)
        self.assertEqual(harness.veil("policy", "check").returncode, 2)
        self.assertEqual(harness.veil("policy", "frobnicate").returncode, 2)
        self.assertEqual(harness.veil("policy", "--help").returncode, 0)


DEFAULT = os.path.join(POLICIES, "council-default.yaml")

PAGE = """<html><body><iframe src="https://www.youtube.com/embed/abc"></iframe>
<script>var s = '<iframe src="https://not-a-tag.example/">';</script>
<script async src="//www.googletagmanager.com/gtm.js?id=GTM-X"></script>
<img src="https://www.facebook.com/tr?id=1&amp;ev=PageView"><a href="/bins">Bins</a></body></html>
"""


def rule_line(pattern_line):
    """The 1-based line of the rule whose pattern line is `pattern_line` in the default policy."""
    with open(DEFAULT) as policy:
        for number, line in enumerate(policy, 1):
            if line.split("#")[0].strip() == pattern_line:
                return number
    raise AssertionError(f"{pattern_line} not in {DEFAULT}")


class PolicyExplain(unittest.TestCase):
    def test_flags_print_every_decision_with_its_rule(self):
        with harness.temp_dir() as directory:
            page = write(directory, "page.html", PAGE)
            result = harness.veil(
                "policy", "explain", "--policy", DEFAULT, "--request", "GET /bins",
                "--header", "Host: www.example.gov.uk", "--tls",
                "--cookie", "_ga=GA1.2.3; PHPSESSID=abc",
                "--set-cookie", "_ga=GA1.2.3; Max-Age=63072000; Path=/",
                "--set-cookie", "PHPSESSID=abc; Path=/; Max-Age=31536000",
                "--set-cookie", "mystery=1", "--html", page)
            self.assertEqual(result.returncode, 0, result.stderr.decode())
            lines = result.stdout.decode().splitlines()
            ga = f"{DEFAULT}:{rule_line('- name: _ga')}"
            session = f"{DEFAULT}:{rule_line('- name: PHPSESSID')}"
            self.assertEqual(lines[0], "Request GET /bins (host www.example.gov.uk, https): mode enforce")
            self.assertEqual(lines[1], "Consent: no decision recorded; granted: essential")
            self.assertIn(f"Cookie _ga: category usage ({ga}); no consent → expired", lines)
            self.assertIn(f"Set-Cookie _ga (Max-Age 63072000): category usage ({ga}); no consent → removed",
                          lines)
            rewritten = [line for line in lines if line.startswith("Set-Cookie PHPSESSID")]
            self.assertEqual(len(rewritten), 1)
            self.assertIn(f"category essential (always on, {session}); lifetime capped to 2d", rewritten[0])
            self.assertIn("→ rewritten: PHPSESSID=abc; Path=/; Max-Age=172800; Expires=", rewritten[0])
            self.assertTrue(rewritten[0].endswith("; Secure; HttpOnly; SameSite=Lax"))
            self.assertTrue(any(line.startswith("Set-Cookie mystery (session): no rule matches; "
                                                "unclassified: block") and line.endswith("→ removed")
                                for line in lines))
            embeds = [line.split(":")[0] for line in lines if line.startswith("Embed ")]
            # The iframe inside the script string is text, not a tag; the relative link is local.
            self.assertEqual(embeds, ["Embed www.youtube.com", "Embed www.googletagmanager.com",
                                      "Embed www.facebook.com"])
            self.assertTrue(all(line.endswith("→ blocked") for line in lines if line.startswith("Embed ")))

    def test_report_only_and_consent_change_the_verdicts(self):
        result = harness.veil(
            "policy", "explain", "--policy", os.path.join(POLICIES, "report-only.yaml"),
            "--set-cookie", "_ga=1; Max-Age=60", "--consent", "campaigns",
            "--header", "X-Forwarded-Proto: https")
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        out = result.stdout.decode()
        self.assertIn("mode report-only", out)
        self.assertIn("granted: essential, campaigns", out)
        self.assertIn("consent refused (given) → would be removed (report-only)", out)

    def test_a_case_file_and_gpc(self):
        with harness.temp_dir() as directory:
            cases = write(directory, "case.yaml", "request: GET /\nsec_gpc: true\n"
                                                  "set_cookies: ['_fbp=fb.1; Max-Age=7776000']\n")
            result = harness.veil("policy", "explain", "--policy", DEFAULT, cases)
            self.assertEqual(result.returncode, 0, result.stderr.decode())
            self.assertIn("Consent: from Sec-GPC; granted: essential", result.stdout.decode())
            self.assertIn("refused by Sec-GPC → removed", result.stdout.decode())

    def test_bad_arguments(self):
        self.assertEqual(harness.veil("policy", "explain", "--request", "GET /").returncode, 2)
        self.assertEqual(harness.veil("policy", "explain", "--policy", DEFAULT, "--request",
                                      "nonsense").returncode, 2)
        missing = harness.veil("policy", "explain", "--policy", "/nonexistent.yaml")
        self.assertEqual(missing.returncode, 1)
        self.assertIn(b"cannot read the policy file", missing.stderr)


CASES = """cases:
  - name: analytics waits for consent
    request: GET /bins
    host: www.example.gov.uk
    tls: true
    cookies: "_ga=GA1.2.3; PHPSESSID=abc"
    set_cookies: ["_ga=GA1.2.3; Max-Age=63072000; Path=/", "PHPSESSID=abc; Max-Age=31536000"]
    html: page.html
    expect:
      consent: [essential]
      set_cookies:
        _ga: removed
        PHPSESSID: {action: rewritten, category: essential, max_age: 2d}
      request_cookies: {_ga: expired, PHPSESSID: forwarded}
      embeds: {www.youtube.com: blocked, www.googletagmanager.com: blocked}
  - name: accepted analytics are capped at 13 months
    cookies: 'cookies_policy={"essential":true,"usage":true}; cookies_preferences_set=true'
    set_cookies: ["_ga=1; Max-Age=63072000"]
    embeds: [www.youtube.com]
    expect:
      consent: [essential, usage]
      set_cookies: {_ga: {action: rewritten, max_age: 13mo}}
      embeds: {www.youtube.com: blocked}
"""


class PolicyTest(unittest.TestCase):
    def test_passing_cases(self):
        with harness.temp_dir() as directory:
            write(directory, "page.html", PAGE)
            cases = write(directory, "cases.yaml", CASES)
            result = harness.veil("policy", "test", DEFAULT, cases)
            self.assertEqual(result.stdout.decode(), "2 of 2 cases passed\n", result.stderr.decode())
            self.assertEqual(result.returncode, 0)

    def test_every_difference_is_printed_and_fails(self):
        with harness.temp_dir() as directory:
            write(directory, "page.html", PAGE)
            wrong = CASES.replace("_ga: removed", "_ga: kept").replace(
                "{_ga: {action: rewritten, max_age: 13mo}}", "{_ga: {action: rewritten, max_age: 1y}}")
            cases = write(directory, "cases.yaml", wrong)
            result = harness.veil("policy", "test", DEFAULT, cases)
            self.assertEqual(result.returncode, 1)
            lines = result.stdout.decode().splitlines()
            self.assertEqual(len(lines), 3, lines)
            self.assertTrue(lines[0].startswith(f"{cases}:12: case 'analytics waits for consent': "
                                                "Set-Cookie _ga: expected kept, got removed (category usage"))
            self.assertTrue(lines[1].startswith(f"{cases}:22: case 'accepted analytics are capped at 13 "
                                                "months': Set-Cookie _ga: expected max_age 1y, got 13mo"))
            self.assertEqual(lines[2], "0 of 2 cases passed")

    def test_case_file_diagnostics(self):
        with harness.temp_dir() as directory:
            cases = write(directory, "cases.yaml", "cases:\n  - expcet: {}\n")
            result = harness.veil("policy", "test", DEFAULT, cases)
            self.assertEqual(result.returncode, 1)
            self.assertEqual(result.stderr.decode().splitlines(),
                             [f"{cases}:2:5: error: unknown key 'expcet' in 'cases[0]'; did you mean 'expect'?"])


if __name__ == "__main__":
    unittest.main()
