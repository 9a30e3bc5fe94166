"""`veil audit report` end to end through the built binary: audit files from two proxy instances
merge into one "cookies we use" page (HTML, Markdown, JSON) with the violations listed."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from audit_report_html import AuditReportTables  # noqa: E402

POLICY = os.path.join(harness.SOURCE_DIR, "policies", "council-default.yaml")


def record(name, category, rule="", **fields):
    base = {"name": name, "domain": "www.example.gov.uk", "path": "/", "category": category,
            "rule": rule, "first_seen": "2026-11-23T10:00:00Z",
            "last_seen": "2026-11-23T10:05:00Z", "seen": 1, "set_by_server": 0,
            "sent_by_browser": 0, "removed": 0, "rewritten": 0, "expired": 0, "session": 0,
            "max_requested_lifetime": None, "max_enforced_lifetime": None, "secure": 0,
            "http_only": 0, "same_site": "", "violations": {}}
    base.update(fields)
    return json.dumps(base)


# Instance A and instance B saw some of the same cookies.
INSTANCE_A = [
    record("_ga", "usage", "council-default.yaml:257", seen=2, set_by_server=2, rewritten=2,
           max_requested_lifetime=63072000, max_enforced_lifetime=33696000,
           violations={"lifetime_over_policy": 2}),
    record("session", "essential", "council-default.yaml:115", set_by_server=1, session=1,
           http_only=1, violations={"missing_secure": 1}),
    record("tracker_*", "", seen=3, sent_by_browser=3, expired=3,
           violations={"unclassified": 3}),
]
INSTANCE_B = [
    record("_ga", "usage", "council-default.yaml:257", seen=1, set_by_server=1, rewritten=1,
           first_seen="2026-11-22T09:00:00Z", max_requested_lifetime=63072000,
           max_enforced_lifetime=33696000, violations={"lifetime_over_policy": 1}),
    record("_ga_*", "usage", "council-default.yaml:262", seen=4, sent_by_browser=4, expired=4,
           violations={"set_before_consent": 4}),
    record("<b>x*", "", set_by_server=1, removed=1, violations={"unclassified": 1}),
]
OBSERVED = {"_ga", "session", "tracker_*", "_ga_*", "<b>x*"}


class AuditReport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._dir = harness.temp_dir()
        cls.dir = cls._dir.name
        cls.a = os.path.join(cls.dir, "a.jsonl")
        cls.b = os.path.join(cls.dir, "b.jsonl")
        with open(cls.a, "w") as out:
            out.write("\n".join(INSTANCE_A) + "\n")
        with open(cls.b, "w") as out:
            out.write("\n".join(INSTANCE_B) + "\n\n")

    @classmethod
    def tearDownClass(cls):
        cls._dir.cleanup()

    def report(self, *args):
        result = harness.veil("audit", "report", self.a, self.b, *args)
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        return result.stdout.decode()

    def test_html_lists_every_cookie_once_and_the_violations(self):
        out = os.path.join(self.dir, "cookies.html")
        self.assertEqual(self.report("--policy", POLICY, "-o", out), "")
        with open(out) as page:
            text = page.read()
        parser = AuditReportTables()
        parser.feed(text)
        self.assertTrue(text.startswith("<!DOCTYPE html>"))
        self.assertIn('<html lang="en">', text)
        self.assertTrue(parser.has_inline_css)
        self.assertEqual(parser.external, [])
        cookie_tables = [t for t in parser.tables if t[0].endswith(" cookies")]
        names = [name for _, rows in cookie_tables for name in rows]
        self.assertEqual(sorted(names), sorted(OBSERVED))
        captions = [caption for caption, _ in cookie_tables]
        self.assertIn("Usage cookies", captions)
        self.assertIn("Unclassified cookies", captions)
        violations = [t for t in parser.tables if t[0] == "Cookies that broke the policy"]
        self.assertEqual(len(violations), 1)
        self.assertEqual(sorted(violations[0][1]),
                         sorted(["_ga", "session", "tracker_*", "_ga_*", "<b>x*"]))
        self.assertNotIn("<b>x", text)  # escaped
        self.assertIn("&lt;b&gt;x*", text)
        self.assertIn("Google Analytics", text)  # provider from the policy
        self.assertIn("13 months", text)
        self.assertIn("When you close your browser", text)

    def test_markdown(self):
        text = self.report("--format", "markdown", "--policy", POLICY)
        self.assertIn("## Usage cookies", text)
        self.assertIn("| \\_ga | Google Analytics |", text)
        self.assertIn("## Violations", text)
        self.assertEqual(text.count("| \\_ga |"), 2)  # the table and one violation

    def test_json_merges_instances(self):
        report = json.loads(self.report("--format", "json"))
        ga = [r for r in report["records"] if r["name"] == "_ga"]
        self.assertEqual(len(ga), 1)
        self.assertEqual(ga[0]["seen"], 3)
        self.assertEqual(ga[0]["first_seen"], "2026-11-22T09:00:00Z")
        self.assertEqual(ga[0]["last_seen"], "2026-11-23T10:05:00Z")
        self.assertEqual(ga[0]["violations"], {"lifetime_over_policy": 3})
        usage = [c for c in report["categories"] if c["category"] == "usage"][0]
        how = {c["name"]: c["how_set"] for c in usage["cookies"]}
        self.assertEqual(how, {"_ga": "server", "_ga_*": "javascript"})
        problems = {(v["name"], v["count"]) for v in report["violations"]}
        self.assertIn(("tracker_*", 3), problems)
        self.assertIn(("_ga_*", 4), problems)

    def test_a_bad_line_names_file_and_line(self):
        bad = os.path.join(self.dir, "bad.jsonl")
        with open(bad, "w") as out:
            out.write(INSTANCE_A[0] + "\n{\"name\": \"x\"}\n")
        result = harness.veil("audit", "report", bad)
        self.assertEqual(result.returncode, 1)
        self.assertIn(f"{bad}:2:".encode(), result.stderr)
        missing = harness.veil("audit", "report", os.path.join(self.dir, "nope.jsonl"))
        self.assertEqual(missing.returncode, 1)
        self.assertIn(b"nope.jsonl", missing.stderr)

    def test_usage_errors(self):
        for args in (("report",), ("report", self.a, "--format", "pdf"), ("frobnicate",),
                     ("report", self.a, "--policy")):
            with self.subTest(args=args):
                result = harness.veil("audit", *args)
                self.assertEqual(result.returncode, 2)
                self.assertIn(b"Usage", result.stderr)


if __name__ == "__main__":
    unittest.main()
