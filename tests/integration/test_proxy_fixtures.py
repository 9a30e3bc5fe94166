"""Fixtures shared by the test_proxy_*.py integration tests: a recording origin server, a running
`veil proxy`, and raw-socket HTTP helpers. Run directly, it checks the fixtures themselves against
the origin (no proxy involved), so a proxy test failure is never a fixture bug in disguise."""

import contextlib
import hashlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402


def read_chunked(rfile, digest=None):
    """Reads a chunked body from a file object; returns (body bytes, trailer lines). With `digest`
    (a hashlib object) the body is fed to it instead of kept, and the length is returned."""
    body = bytearray()
    length = 0
    while True:
        size_line = rfile.readline()
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            break
        piece = rfile.read(size)
        length += len(piece)
        if digest is None:
            body += piece
        else:
            digest.update(piece)
        rfile.readline()
    trailers = []
    while True:
        line = rfile.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        trailers.append(line.decode().strip())
    if digest is not None:
        return length, trailers
    return bytes(body), trailers


class _OriginHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            if self.path.startswith("/sink"):
                digest = hashlib.sha256()
                length, trailers = read_chunked(self.rfile, digest)
                return digest.hexdigest().encode() + b" %d" % length, trailers
            return read_chunked(self.rfile)
        length = int(self.headers.get("Content-Length", "0"))
        if self.path.startswith("/sink"):  # streamed: never held in memory
            digest, left = hashlib.sha256(), length
            while left:
                piece = self.rfile.read(min(left, 1 << 16))
                if not piece:
                    break
                digest.update(piece)
                left -= len(piece)
            return digest.hexdigest().encode() + b" %d" % (length - left), []
        return self.rfile.read(length), []

    def _handle(self):
        body, trailers = self._read_body()
        record = {
            "method": self.command,
            "path": self.path,
            "version": self.request_version,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body": body.decode("latin-1"),
            "trailers": trailers,
            "origin": self.server.name,
        }
        self.server.requests.append(record)
        path = self.path.split("?")[0]
        query = dict(p.split("=", 1) for p in self.path.partition("?")[2].split("&") if "=" in p)
        if path == "/slow":
            time.sleep(float(query.get("s", "5")))
        if path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "X-Checksum")
            self.end_headers()
            for piece in (b"first,", b"second,", b"third"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\nX-Checksum: abc123\r\n\r\n")
            return
        if path == "/close-delimited":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"no length, ends at close")
            self.close_connection = True
            return
        if path == "/large":
            size = int(query["n"])
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            # Byte k of the body is k % 256, so that a client can check every byte's place.
            block = bytes(range(256)) * 256
            left = size
            while left:
                n = min(left, len(block))
                self.wfile.write(block[:n])
                left -= n
            return
        status = int(query.get("status", "200"))
        payload = json.dumps(record).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = _handle


@contextlib.contextmanager
def origin(name="origin"):
    """A threaded HTTP/1.1 origin on 127.0.0.1 recording every request it receives."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OriginHandler)
    server.daemon_threads = True
    server.requests = []
    server.name = name
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def raw_origin(handler):
    """An origin speaking raw bytes: `handler(conn)` is called for each accepted connection in its
    own thread (for faults no well-behaved server produces). Yields (port, list of received bytes)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    received = []
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            threading.Thread(target=_run_raw, args=(handler, conn, received), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], received
    finally:
        stop.set()
        thread.join()
        listener.close()


def _run_raw(handler, conn, received):
    with conn:
        conn.settimeout(30)
        try:
            handler(conn, received)
        except OSError:
            pass


class Proxy:
    def __init__(self, process, port, admin_port, log_path):
        self.process = process
        self.port = port
        self.admin_port = admin_port
        self.log_path = log_path

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read()


@contextlib.contextmanager
def proxy(*args):
    """Runs `veil proxy --listen 127.0.0.1:PORT --admin 127.0.0.1:PORT2 ARGS...` until the block ends."""
    port, admin_port = harness.free_port(), harness.free_port()
    with harness.temp_dir() as tmp:
        log_path = os.path.join(tmp, "proxy.log")
        with open(log_path, "wb") as log, harness.running(
                [harness.VEIL_BIN, "proxy", "--listen", f"127.0.0.1:{port}",
                 "--admin", f"127.0.0.1:{admin_port}", *args],
                stdout=log, stderr=subprocess.STDOUT) as process:
            harness.wait_for_port(port, process=process)
            harness.wait_for_port(admin_port, process=process)
            yield Proxy(process, port, admin_port, log_path)


def connect(port, timeout=30):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


class Response:
    def __init__(self, status, headers, body, trailers):
        self.status = status
        self.headers = headers  # list of (name, value)
        self.body = body
        self.trailers = trailers

    def header(self, name):
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[0] if values else None

    def json(self):
        return json.loads(self.body)


def read_response(rfile, method="GET"):
    """Reads one response (skipping nothing: 1xx responses are returned as themselves)."""
    status_line = rfile.readline()
    if not status_line:
        raise ConnectionError("connection closed before a response")
    status = int(status_line.split()[1])
    headers = []
    while True:
        line = rfile.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    response = Response(status, headers, b"", [])
    if method == "HEAD" or status // 100 == 1 or status in (204, 304):
        return response
    if (response.header("Transfer-Encoding") or "").lower() == "chunked":
        response.body, response.trailers = read_chunked(rfile)
    elif response.header("Content-Length") is not None:
        response.body = rfile.read(int(response.header("Content-Length")))
    else:
        response.body = rfile.read()
    return response


def exchange(port, request_bytes, method="GET", timeout=30, check_closed=True):
    """Sends raw bytes on a new connection; returns (response or None, whether the proxy closed the
    connection after it; None when not checked)."""
    with connect(port, timeout) as sock:
        sock.sendall(request_bytes)
        rfile = sock.makefile("rb")
        try:
            response = read_response(rfile, method)
        except (ConnectionError, OSError, ValueError, IndexError):
            return None, True
        return response, closed_by_peer(sock) if check_closed else None


def closed_by_peer(sock, wait=10.0):
    """True if the peer closes the connection (EOF or reset) within `wait` seconds."""
    sock.settimeout(wait)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


class FixtureSelfTest(unittest.TestCase):
    def test_origin_echoes_and_records_a_chunked_request(self):
        with origin() as server:
            port = server.server_address[1]
            request = (b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n")
            with connect(port) as sock:
                sock.sendall(request)
                response = read_response(sock.makefile("rb"))
            self.assertEqual(response.status, 200)
            self.assertEqual(response.json()["body"], "abc")
            self.assertEqual(server.requests[0]["trailers"], ["X-T: 1"])

    def test_read_response_decodes_chunked_with_trailers(self):
        with origin() as server:
            with connect(server.server_address[1]) as sock:
                sock.sendall(b"GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n")
                response = read_response(sock.makefile("rb"))
            self.assertEqual(response.body, b"first,second,third")
            self.assertEqual(response.trailers, ["X-Checksum: abc123"])


if __name__ == "__main__":
    unittest.main()
