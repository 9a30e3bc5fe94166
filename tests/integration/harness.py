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
