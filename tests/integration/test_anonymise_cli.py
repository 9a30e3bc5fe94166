"""`veil anonymise` through the real binary: formats, gzip, stdin, --in-place (also with injected
failures), daily key rotation, sharding, the live piped-logger mode, SIGUSR1 reopen, usage errors,
anonip's mask aliases, and a property test that no generated address survives in any position."""

import gzip
import ipaddress
import os
import random
import re
import resource
import select
import shutil
import signal
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import VEIL_BIN, temp_dir, veil  # noqa: E402

SAMPLE = os.path.join(harness.SOURCE_DIR, "demo", "sample-access.log")
KEY32 = "8f4e0b6a1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b"

IPV4 = re.compile(r"(?<![0-9.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9])")
# Candidate IPv6 tokens: hex groups with at least two colons (validated with ipaddress).
IPV6 = re.compile(r"(?<![0-9A-Za-z:.])[0-9A-Fa-f:]*:[0-9A-Fa-f]*:[0-9A-Fa-f:.]*(?![0-9A-Za-z:])")


def parse_address(token):
    """The address a regex match denotes (a trailing '.' or ':' may be punctuation), or None."""
    for candidate in (token, token.rstrip(".:")):
        try:
            address = ipaddress.ip_address(candidate)
        except ValueError:
            continue
        return address, len(candidate)
    return None, 0


def addresses_in(text):
    """Every IPv4/IPv6 address in `text` (str), normalised; IPv4-mapped IPv6 counts as its IPv4."""
    found = set()
    for pattern in (IPV4, IPV6):
        for match in pattern.finditer(text):
            address, _ = parse_address(match.group())
            if address is not None:
                found.add(getattr(address, "ipv4_mapped", None) or address)
    return found


def mask_addresses(text):
    """`text` with every address replaced by <ip>: equal masks mean only addresses changed."""
    def replace(match):
        address, length = parse_address(match.group())
        return match.group() if address is None else "<ip>" + match.group()[length:]
    return IPV6.sub(replace, IPV4.sub(replace, text))


def truncation_changes(addresses):
    """The addresses that truncation to /24 and /48 (the defaults) changes: the others may appear
    unchanged in its output without anything having leaked."""
    def truncated(address):
        bits = 24 if address.version == 4 else 48
        return ipaddress.ip_network(f"{address}/{bits}", strict=False).network_address
    return {address for address in addresses if truncated(address) != address}


def write(path, data, mode=0o644):
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    os.chmod(path, mode)
    return path


def read(path):
    with open(path, "rb") as f:
        return f.read()


def random_ipv4(rng):
    # Public-looking, last octet and second-to-last nonzero so that no method maps it to itself.
    return ipaddress.IPv4Address(f"{rng.randint(1, 223)}.{rng.randint(0, 255)}."
                                 f"{rng.randint(1, 255)}.{rng.randint(1, 254)}")


def random_ipv6(rng):
    if rng.random() < 0.5:  # zero groups in the middle: compressed and exploded forms differ
        return ipaddress.IPv6Address((0x2a00 << 112) | (rng.getrandbits(32) << 80) | rng.randint(1, 0xffff))
    return ipaddress.IPv6Address((0x2a00 << 112) | (rng.getrandbits(96) << 16) | rng.randint(1, 0xffff))


def spellings(address, rng):
    """Text forms of `address` as logs carry them, each with the address it denotes."""
    if address.version == 4:
        return [str(address), f"{address}:{rng.randint(1, 65535)}", f"::ffff:{address}"]
    return [address.compressed, address.exploded, address.compressed.upper(),
            f"[{address.compressed}]:{rng.randint(1, 65535)}", f"{address.compressed}%eth0"]


def combined_line(day, second, client, target, referrer, agent, xff=None):
    line = (f'{client} - - [{day:02d}/Nov/2026:{second // 3600:02d}:{second // 60 % 60:02d}:'
            f'{second % 60:02d} +0000] "GET {target} HTTP/1.1" 200 512 "{referrer}" "{agent}"')
    return line + (f' "{xff}"' if xff else "")


class AnonymiseCli(unittest.TestCase):
    def run_veil(self, *args, input=None, expect=0, env=None):
        result = veil("anonymise", *args, input=input, env=env)
        if expect is not None:
            self.assertEqual(result.returncode, expect,
                             f"veil anonymise {' '.join(args)}: {result.stderr.decode()}")
        return result

    def assert_no_address_survives(self, raw_addresses, output, stderr=b""):
        text = output.decode("utf-8", "replace")
        leaked = raw_addresses & addresses_in(text)
        self.assertFalse(leaked, f"raw addresses in output: {sorted(map(str, leaked))[:5]}")
        leaked = raw_addresses & addresses_in(stderr.decode("utf-8", "replace"))
        self.assertFalse(leaked, f"raw addresses in messages: {sorted(map(str, leaked))[:5]}")

    # --- formats -----------------------------------------------------------------------------

    def format_samples(self):
        combined = "\n".join([
            combined_line(1, 10, "198.51.100.23", "/a?ip=203.0.113.77", "-", "curl/8"),
            combined_line(1, 11, "2a00:1450:4009:81b::200e", "/b", "https://x.example/?from=192.0.2.55",
                          "Mozilla/5.0", xff="203.0.113.9, 10.1.2.3"),
        ]) + "\n"
        common = ('198.51.100.23 - - [01/Nov/2026:10:00:00 +0000] "GET /x?c=203.0.113.77 HTTP/1.1" '
                  '200 5\n2a00:1450:4009:81b::200e - - [01/Nov/2026:10:00:01 +0000] "GET / HTTP/1.1" '
                  '404 0\n')
        w3c = ("#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n"
               "#Date: 2026-11-01 10:00:00\n"
               "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port c-ip sc-status\n"
               "2026-11-01 10:00:00 10.0.0.5 GET /default.htm ip=203.0.113.77 80 198.51.100.23 200\n"
               "#Fields: date time c-ip cs-method cs-uri-stem sc-status\n"
               "2026-11-01 10:00:01 2a00:1450:4009:81b::200e GET /x 200\n")
        json_lines = ('{"remote_addr":"198.51.100.23","request":"GET /a?ip=203.0.113.77 HTTP/1.1",'
                      '"status":200,"http_x_forwarded_for":"203.0.113.9, 10.1.2.3"}\n'
                      '{"client_ip":"2a00:1450:4009:81b::200e","time":"2026-11-01T10:00:01Z"}\n')
        plain = "connection from 198.51.100.23 via 2a00:1450:4009:81b::200e to 203.0.113.77\n"
        return {"combined": combined, "common": common, "w3c": w3c, "json": json_lines,
                "plain": plain}

    def test_every_format_anonymises_addresses_and_keeps_everything_else(self):
        with temp_dir() as tmp:
            for name, text in self.format_samples().items():
                for format_flag in (name, "auto"):
                    with self.subTest(format=name, flag=format_flag):
                        path = write(os.path.join(tmp, f"{name}.log"), text)
                        result = self.run_veil("--format", format_flag, path)
                        out = result.stdout.decode()
                        self.assertEqual(out.count("\n"), text.count("\n"))
                        self.assert_no_address_survives(addresses_in(text), result.stdout,
                                                        result.stderr)
                        self.assertEqual(mask_addresses(out), mask_addresses(text))

    def test_line_terminators_are_kept(self):
        text = (combined_line(1, 1, "198.51.100.23", "/", "-", "a") + "\r\n\n" +
                combined_line(1, 2, "198.51.100.24", "/", "-", "b"))
        result = self.run_veil("--format", "combined", input=text.encode())
        out = result.stdout.decode()
        self.assertEqual(out.count("\r\n"), 1)
        self.assertIn("\r\n\n", out)
        self.assertFalse(out.endswith("\n"))
        self.assertEqual(mask_addresses(out), mask_addresses(text))

    def test_pii_in_urls_is_scrubbed_and_scrub_none_keeps_it(self):
        line = combined_line(1, 5, "198.51.100.23",
                             "/report?postcode=SW1A+1AA&email=jane.smith%40example.com",
                             "https://x.example/?nhs=9434765919", "Mozilla/5.0") + "\n"
        out = self.run_veil(input=line.encode()).stdout.decode()
        for raw in ("SW1A+1AA", "jane.smith", "9434765919"):
            self.assertNotIn(raw, out)
        self.assertIn("[postcode]", out)
        kept = self.run_veil("--scrub", "none", input=line.encode()).stdout.decode()
        self.assertIn("SW1A+1AA", kept)
        only_email = self.run_veil("--scrub", "email", input=line.encode()).stdout.decode()
        self.assertIn("SW1A+1AA", only_email)
        self.assertNotIn("jane.smith", only_email)

    # --- inputs and outputs ------------------------------------------------------------------

    def test_gzip_in_and_out(self):
        text = read(SAMPLE)
        with temp_dir() as tmp:
            half = len(text) // 2
            cut = text.index(b"\n", half) + 1
            # Two concatenated gzip members, as `cat a.gz b.gz` produces.
            write(os.path.join(tmp, "in.log.gz"), gzip.compress(text[:cut]) + gzip.compress(text[cut:]))
            expected = self.run_veil(SAMPLE).stdout
            self.run_veil(os.path.join(tmp, "in.log.gz"), "-o", os.path.join(tmp, "out.log.gz"))
            compressed = read(os.path.join(tmp, "out.log.gz"))
            self.assertEqual(compressed[:2], b"\x1f\x8b")
            self.assertEqual(gzip.decompress(compressed), expected)
            self.assertEqual(self.run_veil(os.path.join(tmp, "in.log.gz")).stdout, expected)

    def test_stdin_equals_file(self):
        text = read(SAMPLE)
        from_file = self.run_veil(SAMPLE)
        from_stdin = self.run_veil(input=text)
        self.assertEqual(from_stdin.stdout, from_file.stdout)
        self.assertEqual(from_file.stdout.count(b"\n"), text.count(b"\n"))
        self.assert_no_address_survives(truncation_changes(addresses_in(text.decode())),
                                        from_file.stdout, from_file.stderr)
        self.assertRegex(from_file.stderr.decode(), r"40 lines, \d+ addresses anonymised, \d+ PII scrubbed, "
                                                    r"\d+ unparsed lines")

    def test_several_inputs_concatenate(self):
        one = self.run_veil(SAMPLE).stdout
        self.assertEqual(self.run_veil(SAMPLE, "-", SAMPLE, input=read(SAMPLE)).stdout, one * 3)

    # --- in place ----------------------------------------------------------------------------

    def test_in_place_replaces_atomically(self):
        with temp_dir() as tmp:
            expected = self.run_veil(SAMPLE).stdout
            first = write(os.path.join(tmp, "access.log"), read(SAMPLE), 0o640)
            second = write(os.path.join(tmp, "access.log.1.gz"), gzip.compress(read(SAMPLE)))
            self.run_veil("--in-place", first, second)
            self.assertEqual(read(first), expected)
            self.assertEqual(gzip.decompress(read(second)), expected)
            self.assertEqual(stat.S_IMODE(os.stat(first).st_mode), 0o640)
            self.assertEqual(sorted(os.listdir(tmp)), ["access.log", "access.log.1.gz"])

    def big_log(self, path, lines):
        rng = random.Random(1)
        with open(path, "w") as f:
            for i in range(lines):
                f.write(combined_line(1 + i // 500000, i % 86400, str(random_ipv4(rng)),
                                      f"/page/{i}?q={i}", "-", "Mozilla/5.0") + "\n")
        return read(path)

    def test_in_place_failure_leaves_original_untouched(self):
        with temp_dir() as tmp:
            path = os.path.join(tmp, "access.log")
            original = self.big_log(path, 20000)

            def limit_file_size():
                resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

            result = subprocess.run([VEIL_BIN, "anonymise", "--in-place", path], capture_output=True,
                                    timeout=120, preexec_fn=limit_file_size)
            self.assertEqual(result.returncode, 1, result.stderr.decode())
            self.assertIn("access.log", result.stderr.decode())
            self.assertEqual(read(path), original)
            self.assertEqual(os.listdir(tmp), ["access.log"])

    def test_in_place_killed_mid_run_leaves_original_untouched(self):
        for sig in (signal.SIGKILL, signal.SIGTERM):
            with self.subTest(signal=sig.name), temp_dir() as tmp:
                path = os.path.join(tmp, "access.log")
                original = self.big_log(path, 400000)
                process = subprocess.Popen([VEIL_BIN, "anonymise", "--threads", "1", "--in-place", path],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                caught = self.signal_while_writing(process, tmp, sig)
                process.wait(timeout=60)
                if not caught:
                    self.skipTest("veil finished before it could be interrupted")
                self.assertEqual(process.returncode, -sig)
                self.assertEqual(read(path), original)
                self.assertEqual(os.listdir(tmp), ["access.log"])

    @staticmethod
    def signal_while_writing(process, directory, sig):
        """Sends `sig` once the process holds its temporary output file open; False if it ended."""
        fd_dir = f"/proc/{process.pid}/fd"
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            try:
                targets = [os.readlink(os.path.join(fd_dir, fd)) for fd in os.listdir(fd_dir)]
            except OSError:
                targets = []
            if any(t.startswith(directory) and ("(deleted)" in t or ".veil-" in t) for t in targets):
                process.send_signal(sig)
                return True
            time.sleep(0.001)
        return False

    # --- keys and rotation -------------------------------------------------------------------

    def test_daily_rotation_same_within_a_day_different_across_days(self):
        with temp_dir() as tmp:
            key = write(os.path.join(tmp, "key.hex"), KEY32 + "\n", 0o600)
            lines = [combined_line(1, 10, "198.51.100.23", "/", "-", "a"),
                     combined_line(1, 86399, "198.51.100.23", "/", "-", "b"),
                     combined_line(2, 5, "198.51.100.23", "/", "-", "c")]
            text = ("\n".join(lines) + "\n").encode()
            for method in ("hash", "cryptopan", "ipcrypt-pfx"):
                with self.subTest(method=method):
                    out = self.run_veil("--method", method, "--key-file", key, "--rotate", "daily",
                                        input=text).stdout.decode().splitlines()
                    clients = [line.split(" ", 1)[0] for line in out]
                    self.assertEqual(clients[0], clients[1])
                    self.assertNotEqual(clients[1], clients[2])
                    self.assertNotIn("198.51.100.23", clients)
                    again = self.run_veil("--method", method, "--key-file", key, "--rotate", "daily",
                                          input=text).stdout.decode().splitlines()
                    self.assertEqual(out, again)
                    never = self.run_veil("--method", method, "--key-file", key,
                                          input=text).stdout.decode().splitlines()
                    self.assertEqual(len({line.split(" ", 1)[0] for line in never}), 1)

    def test_key_file_errors_and_warning(self):
        with temp_dir() as tmp:
            short = write(os.path.join(tmp, "short.hex"), "00112233445566778899aabbccdd\n", 0o600)
            result = self.run_veil("--method", "hash", "--key-file", short, SAMPLE, expect=1)
            self.assertIn("short.hex", result.stderr.decode())
            self.assertIn("expected 64 hex digits", result.stderr.decode())
            missing = self.run_veil("--method", "hash", "--key-file", os.path.join(tmp, "none"), SAMPLE,
                                    expect=1)
            self.assertIn("none", missing.stderr.decode())
            readable = write(os.path.join(tmp, "open.hex"), KEY32, 0o644)
            result = self.run_veil("--method", "hash", "--key-file", readable, SAMPLE)
            self.assertIn("readable by other users", result.stderr.decode())

    # --- sharding ----------------------------------------------------------------------------

    def test_sharded_runs_concatenate_to_one_run(self):
        with temp_dir() as tmp:
            key = write(os.path.join(tmp, "key.hex"), KEY32, 0o600)
            rng = random.Random(3)
            lines = [combined_line(1 + i // 3000, i % 86400, str(random_ipv4(rng)), f"/p?i={i}",
                                   f"https://x.example/?a={random_ipv6(rng)}", "ua") for i in range(9000)]
            text = "\n".join(lines) + "\n"
            whole = write(os.path.join(tmp, "whole.log"), text)
            args = ("--method", "cryptopan", "--key-file", key, "--rotate", "daily")
            one_run = self.run_veil(*args, whole).stdout
            pieces = []
            for n, start in enumerate(range(0, 9000, 2345)):
                piece = write(os.path.join(tmp, f"piece{n}.log"), "\n".join(lines[start:start + 2345]) + "\n")
                pieces.append(self.run_veil(*args, "--threads", str(1 + n % 2), piece).stdout)
            self.assertEqual(b"".join(pieces), one_run)

    # --- live use ----------------------------------------------------------------------------

    def read_line_within(self, stream, seconds):
        ready, _, _ = select.select([stream], [], [], seconds)
        self.assertTrue(ready, f"no output within {seconds} s")
        return stream.readline()

    def test_piped_logger_writes_each_line_at_once(self):
        with harness.running([VEIL_BIN, "anonymise", "--format", "combined"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
            for i in range(3):
                line = combined_line(1, i, f"198.51.100.{20 + i}", f"/live/{i}", "-", "ua") + "\n"
                started = time.monotonic()
                process.stdin.write(line.encode())
                process.stdin.flush()
                out = self.read_line_within(process.stdout, 10).decode()
                elapsed = time.monotonic() - started
                self.assertIn(f"/live/{i}", out)
                self.assertNotIn(f"198.51.100.{20 + i}", out)
                self.assertIsNone(process.poll(), "veil must keep running while stdin is open")
                # Generous for a loaded machine; the pipeline itself does not wait for more input.
                self.assertLess(elapsed, 5.0)
            process.stdin.close()
            self.assertEqual(process.wait(timeout=30), 0)

    def test_sigusr1_reopens_the_output(self):
        with temp_dir() as tmp:
            out = os.path.join(tmp, "access.log")
            with harness.running([VEIL_BIN, "anonymise", "-o", out], stdin=subprocess.PIPE,
                                 stderr=subprocess.PIPE) as process:
                def send(n):
                    process.stdin.write((combined_line(1, n, "198.51.100.9", f"/line/{n}", "-", "ua") +
                                         "\n").encode())
                    process.stdin.flush()

                def wait_for(path, needle):
                    deadline = time.monotonic() + 20
                    while time.monotonic() < deadline:
                        if os.path.exists(path) and needle in read(path):
                            return
                        time.sleep(0.02)
                    self.fail(f"{needle!r} never reached {path}")

                send(1)
                wait_for(out, b"/line/1")
                os.rename(out, out + ".1")
                process.send_signal(signal.SIGUSR1)
                wait_for(out, b"")  # reopened even before the next line arrives
                send(2)
                wait_for(out, b"/line/2")
                process.stdin.close()
                self.assertEqual(process.wait(timeout=30), 0)
            self.assertNotIn(b"/line/2", read(out + ".1"))
            self.assertIn(b"/line/1", read(out + ".1"))
            self.assertNotIn(b"/line/1", read(out))

    def test_output_of_a_piped_logger_is_appended_to(self):
        with temp_dir() as tmp:
            out = write(os.path.join(tmp, "access.log"), "earlier line\n")
            line = combined_line(1, 1, "198.51.100.9", "/", "-", "ua") + "\n"
            self.run_veil("-o", out, input=line.encode())
            self.assertTrue(read(out).startswith(b"earlier line\n"))
            self.assertEqual(read(out).count(b"\n"), 2)

    # --- command line ------------------------------------------------------------------------

    def test_help(self):
        result = self.run_veil("--help")
        for flag in ("--in-place", "--method", "--ipv4mask", "--rotate", "--scrub", "--policy"):
            self.assertIn(flag, result.stdout.decode())

    def test_usage_errors_exit_2_with_a_clear_message(self):
        with temp_dir() as tmp:
            log = write(os.path.join(tmp, "a.log"), read(SAMPLE))
            cases = [
                (["--bogus"], "bogus"),
                (["--method", "md5", log], "md5"),
                (["--format", "csv", log], "csv"),
                (["--ipv4-prefix", "33", log], "--ipv4-prefix"),
                (["--ipv6mask", "129", log], "--ipv6mask"),
                (["--ipv4-prefix", "24", "--ipv4mask", "8", log], "--ipv4mask"),
                (["--method", "hash", log], "--key-file"),
                (["--scrub", "email,passport", log], "passport"),
                (["--rotate", "hourly", log], "hourly"),
                (["--in-place"], "--in-place"),
                (["--in-place", "-o", os.path.join(tmp, "b.log"), log], "--in-place"),
                ([log, "-o", log], "also an input"),
                (["--threads", "-3", log], "--threads"),
            ]
            for args, needle in cases:
                with self.subTest(args=args):
                    result = self.run_veil(*args, expect=2)
                    self.assertIn(needle, result.stderr.decode())
                    self.assertIn("--help", result.stderr.decode())
            self.assertEqual(read(log), read(SAMPLE))

    def test_policy_file_settings_and_flags_overriding_them(self):
        line = combined_line(1, 5, "198.51.100.23", "/r?postcode=SW1A+1AA", "-", "ua") + "\n"
        with temp_dir() as tmp:
            policy = write(os.path.join(tmp, "policy.yaml"),
                           "version: 1\nanonymise:\n  method: truncate\n  ipv4_prefix: 16\n"
                           "  scrub: none\n")
            out = self.run_veil("--policy", policy, input=line.encode()).stdout.decode()
            self.assertTrue(out.startswith("198.51.0.0 "), out)
            self.assertIn("SW1A+1AA", out)
            out = self.run_veil("--policy", policy, "--ipv4-prefix", "24", "--scrub", "postcode",
                                input=line.encode()).stdout.decode()
            self.assertTrue(out.startswith("198.51.100.0 "), out)
            self.assertNotIn("SW1A+1AA", out)
            broken = write(os.path.join(tmp, "broken.yaml"), "version: 1\nanonymise:\n  metod: hash\n")
            result = self.run_veil("--policy", broken, input=line.encode(), expect=1)
            self.assertIn("broken.yaml:3:", result.stderr.decode())
            self.assertEqual(result.stdout, b"")

    def test_runtime_errors_exit_1_naming_the_file(self):
        result = self.run_veil("/nonexistent/access.log", expect=1)
        self.assertIn("/nonexistent/access.log", result.stderr.decode())

    def test_anonip_mask_aliases(self):
        line = ('192.168.100.200 - - [01/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "a"\n'
                '2001:0db8:85a3:0000:0000:8a2e:0370:7334 - - [01/Nov/2026:10:00:00 +0000] '
                '"GET / HTTP/1.1" 200 1 "-" "a"\n').encode()
        out = self.run_veil("--ipv4mask", "12", "--ipv6mask", "84", input=line).stdout.decode()
        self.assertTrue(out.startswith("192.168.96.0 "), out)
        self.assertIn("\n2001:db8:85a0:: ", out)
        self.assertEqual(self.run_veil("-4", "8", "-6", "80", input=line).stdout,
                         self.run_veil("--ipv4-prefix", "24", "--ipv6-prefix", "48", input=line).stdout)

    def test_unparsed_line_is_reported_with_its_place_but_not_its_address(self):
        with temp_dir() as tmp:
            text = (combined_line(1, 1, "198.51.100.23", "/", "-", "a") + "\n" +
                    combined_line(1, 2, "198.51.100.24", "/", "-", "b") + "\n" +
                    "garbage from 203.0.113.200 here\n")
            path = write(os.path.join(tmp, "access.log"), text)
            result = self.run_veil("--format", "combined", path)
            self.assertIn("access.log:3:", result.stderr.decode())
            self.assertRegex(result.stderr.decode(), r"1 unparsed line")
            self.assert_no_address_survives(addresses_in(text), result.stdout, result.stderr)

    # --- property ----------------------------------------------------------------------------

    def test_property_no_generated_address_survives_in_any_position(self):
        rng = random.Random(20261123)
        for form in ("combined", "json"):
            raw = set()
            lines = []
            for i in range(3000):
                def spelled():
                    address = random_ipv4(rng) if rng.random() < 0.6 else random_ipv6(rng)
                    raw.add(address)
                    return rng.choice(spellings(address, rng))

                client = spelled()
                xff = ", ".join(spelled() for _ in range(rng.randint(1, 3)))
                target = f"/p/{spelled()}/x?ip={spelled()}&n={i}"
                referrer = f"https://ref.example/?from={spelled()}"
                if form == "combined":
                    lines.append(combined_line(1, i % 86400, client, target, referrer,
                                               f"agent-{i}", xff=xff))
                else:
                    lines.append('{"remote_addr":"%s","request":"GET %s HTTP/1.1","http_referer":"%s",'
                                 '"http_x_forwarded_for":"%s","seq":%d}' % (client, target, referrer, xff, i))
            text = "\n".join(lines) + "\n"
            for method_args in (["--method", "truncate"], ["--method", "ipcrypt-pfx", "--key-file", None]):
                with self.subTest(form=form, method=method_args[1]), temp_dir() as tmp:
                    args = [a if a is not None else write(os.path.join(tmp, "k"), KEY32, 0o600)
                            for a in method_args]
                    path = write(os.path.join(tmp, "in.log"), text)
                    result = self.run_veil(*args, "--format", form, "--threads", "2", path)
                    out_lines = result.stdout.decode().split("\n")
                    self.assertEqual(len(out_lines), len(lines) + 1)
                    marker = "agent-{}" if form == "combined" else '"seq":{}}}'
                    for i, out_line in enumerate(out_lines[:-1]):
                        self.assertIn(marker.format(i), out_line)
                    self.assert_no_address_survives(raw, result.stdout, result.stderr)


if __name__ == "__main__":
    unittest.main()
