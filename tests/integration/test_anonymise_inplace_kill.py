"""`veil anonymise --in-place` on a ~2 GB combined log, SIGKILLed at seeded random points: at start-up,
early, in the middle, late, and once its temporary output is complete (the fsync, link and
rename phase). After every kill the original is byte-identical (sha256) -- or, only for the kill in the
final phase, already the complete anonymised output -- and no other file is left in its directory. Then
one uninterrupted run must give exactly what `veil anonymise FILE > OUT` gives.

Under ASan+UBSan (a build configured with VEIL_SANITIZE=ON), which makes veil several times slower, the
log is 250 MB so that the test stays within ctest's timeout; the kill points are the same.

The log comes from build/bench/bench_gen_access_log when it is built, otherwise from a generator here.
Set VEIL_KILL_SEED to replay a run's kill points (the seed is printed)."""

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402


def sanitized_build():
    try:
        with open(os.path.join(harness.BUILD_DIR, "CMakeCache.txt")) as cache:
            return "VEIL_SANITIZE:BOOL=ON" in cache.read()
    except OSError:
        return False


LOG_BYTES = 250_000_000 if sanitized_build() else 2_000_000_000
BYTES_PER_GENERATED_LINE = 242  # bench_gen_access_log's average line, to ask it for about LOG_BYTES
REQUIRED_FREE_BYTES = 8 << 30  # the log, the reference output and the temporary output, with room
RUN_TIMEOUT = 150  # seconds for one full anonymisation of the log on a loaded machine


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def generate_with_bench(generator, path, seed):
    with open(path, "wb") as out:
        subprocess.run([generator, str(LOG_BYTES // BYTES_PER_GENERATED_LINE), str(seed)], stdout=out,
                       check=True, timeout=RUN_TIMEOUT)


def generate_with_python(path, seed):
    """A block of combined lines written over and over, each copy with other client addresses."""
    rng = random.Random(seed)
    paths = ["/", "/bins/collection-day", "/council-tax/pay", "/planning/search?ref=24/01234/FUL",
             "/contact?email=someone@example.org", "/libraries/opening-times"]
    lines = []
    for _ in range(20_000):
        client = f"@.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        if rng.random() < 0.2:
            client = f"2001:db8:@:{rng.randrange(65536):x}::{rng.randrange(1, 65536):x}"
        lines.append(f'{client} - - [23/Nov/2026:{rng.randrange(24):02}:{rng.randrange(60):02}:'
                     f'{rng.randrange(60):02} +0000] "GET {rng.choice(paths)} HTTP/1.1" 200 '
                     f'{rng.randrange(100, 90000)} "-" "Mozilla/5.0 (X11; Linux x86_64)"\n')
    block = "".join(lines).encode()
    written = 0
    with open(path, "wb") as out:
        copy = 0
        while written < LOG_BYTES:
            chunk = block.replace(b"@", str(copy % 223 + 1).encode())
            out.write(chunk)
            written += len(chunk)
            copy += 1


def temporary_output_size(pid, directory):
    """Size of the unnamed temporary file `pid` writes in `directory`, or None before it exists."""
    fd_dir = f"/proc/{pid}/fd"
    try:
        fds = os.listdir(fd_dir)
    except OSError:
        return None
    for fd in fds:
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
            if target.startswith(directory + "/") and target.endswith("(deleted)"):
                return os.stat(os.path.join(fd_dir, fd)).st_size
        except OSError:
            continue
    return None


class InPlaceKillTest(unittest.TestCase):
    def setUp(self):
        root = harness.BUILD_DIR if os.path.isdir(harness.BUILD_DIR) else tempfile.gettempdir()
        free = shutil.disk_usage(root).free
        if free < REQUIRED_FREE_BYTES:
            self.skipTest(f"needs 8 GiB free under {root} for a 2 GB log, has {free >> 20} MiB")
        self.work = tempfile.mkdtemp(prefix="veil-inplace-kill-", dir=root)
        self.addCleanup(shutil.rmtree, self.work, ignore_errors=True)
        # The log alone in its directory: anything else appearing there is the CLI's leftover.
        self.directory = os.path.join(self.work, "logs")
        os.mkdir(self.directory)
        self.log = os.path.join(self.directory, "access.log")
        # A second name for the original's inode (outside the log's directory), to put the original
        # back should a kill land after the rename.
        self.original = os.path.join(self.work, "original.log")

    def start_in_place(self):
        return subprocess.Popen([harness.VEIL_BIN, "anonymise", "--in-place", self.log],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def kill_at(self, fraction, expected_size):
        """Starts an in-place run and SIGKILLs it once its temporary output holds `fraction` of
        `expected_size` bytes (0: as soon as the temporary file exists; 1: once it is complete, in
        the fsync, link and rename phase). Returns True when the kill landed, False when the run
        finished first."""
        process = self.start_in_place()
        try:
            threshold = fraction * expected_size
            deadline = time.monotonic() + RUN_TIMEOUT
            while process.poll() is None and time.monotonic() < deadline:
                size = temporary_output_size(process.pid, self.directory)
                if size is not None and size >= threshold:
                    process.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.002)
            else:
                if process.poll() is None:
                    self.fail(f"in-place run still going after {RUN_TIMEOUT}s")
            _, stderr = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        if process.returncode == -signal.SIGKILL:
            return True
        self.assertEqual(process.returncode, 0, stderr.decode(errors="replace"))
        return False

    def assert_only_log_left(self, context):
        self.assertEqual(sorted(os.listdir(self.directory)), ["access.log"],
                         f"{context}: files left beside the log")

    def test_original_survives_sigkill_at_any_point(self):
        seed = int(os.environ.get("VEIL_KILL_SEED", random.SystemRandom().randrange(1 << 32)))
        print(f"VEIL_KILL_SEED={seed}", file=sys.stderr)
        rng = random.Random(seed)

        generator = os.path.join(harness.BUILD_DIR, "bench", "bench_gen_access_log")
        if os.access(generator, os.X_OK):
            generate_with_bench(generator, self.log, seed)
        else:
            generate_with_python(self.log, seed)
        os.link(self.log, self.original)
        original_sha = sha256_of(self.log)

        reference = os.path.join(self.work, "reference.log")
        with open(reference, "wb") as out:
            run = subprocess.run([harness.VEIL_BIN, "anonymise", self.log], stdout=out,
                                 stderr=subprocess.PIPE, timeout=RUN_TIMEOUT)
        self.assertEqual(run.returncode, 0, run.stderr.decode(errors="replace"))
        reference_size = os.path.getsize(reference)
        reference_sha = sha256_of(reference)
        self.assertNotEqual(reference_sha, original_sha)

        kill_points = [("start-up", 0.0), ("early", rng.uniform(0.01, 0.2)),
                       ("middle", rng.uniform(0.35, 0.65)), ("late", rng.uniform(0.8, 0.99)),
                       ("final phase", 1.0)]
        for name, fraction in kill_points:
            context = f"kill {name} at {fraction:.3f} of the output"
            killed = self.kill_at(fraction, reference_size)
            # The final phase (fsync, link, rename) may be over before a poll sees the output complete.
            self.assertTrue(killed or fraction == 1.0, f"{context}: the run finished before the kill")
            self.assert_only_log_left(context)
            sha = sha256_of(self.log)
            if sha == original_sha:
                self.assertTrue(killed, f"{context}: the run finished but left the original")
                continue
            # Only a run that got past its rename may have replaced the file, and then completely.
            self.assertTrue(not killed or fraction == 1.0, f"{context}: original damaged")
            self.assertEqual(sha, reference_sha, f"{context}: original replaced by another output")
            os.replace(self.original, self.log)
            os.link(self.log, self.original)

        run = subprocess.run([harness.VEIL_BIN, "anonymise", "--in-place", self.log],
                             capture_output=True, timeout=RUN_TIMEOUT)
        self.assertEqual(run.returncode, 0, run.stderr.decode(errors="replace"))
        self.assert_only_log_left("uninterrupted run")
        self.assertEqual(os.path.getsize(self.log), reference_size)
        self.assertEqual(sha256_of(self.log), reference_sha)
        self.assertEqual(sha256_of(self.original), original_sha)


if __name__ == "__main__":
    unittest.main()
