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


if __name__ == "__main__":
    unittest.main()
