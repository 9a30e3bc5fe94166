"""Shared helpers for the integration tests: locate the built `veil`, start real processes on
127.0.0.1, and wait for them. Standard library only. The tests are run by ctest, which sets
VEIL_BIN, VEIL_SOURCE_DIR and VEIL_BUILD_DIR."""

import contextlib
import os
import socket
import subprocess
import tempfile
import time

VEIL_BIN = os.environ.get("VEIL_BIN", "veil")
SOURCE_DIR = os.environ.get("VEIL_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_DIR = os.environ.get("VEIL_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))


def veil(*args, input=None, timeout=120, check=False, env=None):
    """Runs `veil ARGS...` to completion; returns the CompletedProcess (bytes)."""
    return subprocess.run([VEIL_BIN, *args], input=input, capture_output=True, timeout=timeout,
                          check=check, env=env)


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, host="127.0.0.1", timeout=15.0, process=None):
    """Waits until something accepts on host:port; fails early if `process` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listening on {host}:{port} after {timeout}s")


@contextlib.contextmanager
def running(args, **popen_kwargs):
    """Starts a process and always stops it (SIGTERM, then SIGKILL) when the block ends."""
    process = subprocess.Popen(args, **popen_kwargs)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def temp_dir():
    """A temporary directory removed at the end of the `with` block."""
    return tempfile.TemporaryDirectory(prefix="veil-test-")


# --- Load and fault helpers (test_proxy_load.py, bench/slowloris) -------------------------------

import resource  # noqa: E402
import selectors  # noqa: E402
import threading  # noqa: E402
import urllib.request  # noqa: E402


def raise_open_files_limit(wanted):
    """Raises this process's RLIMIT_NOFILE soft limit towards `wanted` (children inherit it);
    returns the soft limit now in force, which may be lower when the hard limit is."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def sanitized_build():
    """True when veil was built with VEIL_SANITIZE=ON (ASan + UBSan)."""
    try:
        with open(os.path.join(BUILD_DIR, "CMakeCache.txt")) as cache:
            return any(line.startswith("VEIL_SANITIZE:BOOL=ON") for line in cache)
    except OSError:
        return False


def rss_kib(pid):
    """The resident set size of process `pid`, in KiB (VmRSS)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


def wait_until(predicate, timeout, interval=0.1):
    """Polls `predicate` until it holds or `timeout` seconds pass; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def scrape_metrics(admin_port, timeout=30):
    """GET /metrics from the admin listener: {'name{labels}': value} for every sample line."""
    url = f"http://127.0.0.1:{admin_port}/metrics"
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        text = answer.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def metric_sum(samples, name):
    """The sum of every sample of metric `name`, whatever its labels (0 when absent)."""
    return sum(value for key, value in samples.items()
               if key == name or key.startswith(name + "{"))


class SlowClients:
    """Slowloris: `count` connections to 127.0.0.1:port that each send the start of a request head
    and then one more byte every `interval` seconds, never finishing it. A background thread records
    when the server closes each one (EOF or reset). With `reconnect`, a closed connection is
    replaced at once, keeping `count` open until stop(); without, the thread ends once all are
    closed. `silent` connections send nothing at all."""

    HEAD = b"GET /slowloris HTTP/1.1\r\nHost: a\r\n"
    TRICKLE = b"X-Slow: " + b"a" * 4096  # one byte of it per interval: never ends the head

    def __init__(self, port, count, interval=1.0, reconnect=False, silent=False):
        self.port = port
        self.interval = interval
        self.silent = silent
        self.reconnect = reconnect
        self.opened_at = []   # monotonic time each connection's first bytes were sent (or opened)
        self.closed_at = []   # monotonic time the server closed it, or None while open
        self.refused = 0      # connections that could not be opened or sent to
        self._selector = selectors.DefaultSelector()
        self._sent = {}       # open socket → bytes of TRICKLE sent
        self._stop = threading.Event()
        for _ in range(count):
            self._open()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _open(self):
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            if not self.silent:
                sock.sendall(self.HEAD)
        except OSError:
            self.refused += 1
            return
        sock.setblocking(False)
        index = len(self.opened_at)
        self.opened_at.append(time.monotonic())
        self.closed_at.append(None)
        self._sent[sock] = 0
        self._selector.register(sock, selectors.EVENT_READ, index)

    def _closed(self, sock, index):
        self.closed_at[index] = time.monotonic()
        self._selector.unregister(sock)
        del self._sent[sock]
        sock.close()
        if self.reconnect and not self._stop.is_set():
            self._open()

    def _run(self):
        next_trickle = time.monotonic() + self.interval
        while not self._stop.is_set() and (self._sent or self.reconnect):
            timeout = max(0.0, next_trickle - time.monotonic())
            for key, _ in self._selector.select(timeout=min(timeout, 0.2)):
                try:
                    data = key.fileobj.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:  # the server answers a slow head with nothing but a close
                    self._closed(key.fileobj, key.data)
            if time.monotonic() >= next_trickle and not self.silent:
                next_trickle += self.interval
                for sock, sent in list(self._sent.items()):
                    try:
                        sock.send(self.TRICKLE[sent % len(self.TRICKLE):][:1])
                        self._sent[sock] = sent + 1
                    except BlockingIOError:
                        pass
                    except OSError:
                        self._closed(sock, self._selector.get_key(sock).data)

    def open_count(self):
        return sum(1 for closed in self.closed_at if closed is None)

    def wait_all_closed(self, timeout):
        """True if the thread saw every connection closed within `timeout` seconds."""
        self._thread.join(timeout)
        return not self._thread.is_alive() and self.open_count() == 0

    def stop(self):
        self._stop.set()
        self._thread.join()
        for sock in list(self._sent):
            sock.close()
        self._sent.clear()
        self._selector.close()


@contextlib.contextmanager
def small_tmpfs(path, size_bytes):
    """Mounts a tmpfs of `size_bytes` on the existing directory `path` for the block and always
    unmounts it. Yields False without mounting where that is not allowed (not root, no mount)."""
    try:
        command = ["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", path]
        mounted = subprocess.run(command, capture_output=True, timeout=30).returncode == 0
    except OSError:
        mounted = False
    try:
        yield mounted
    finally:
        if mounted and subprocess.run(["umount", path], capture_output=True, timeout=30).returncode:
            subprocess.run(["umount", "-l", path], capture_output=True, timeout=30)
