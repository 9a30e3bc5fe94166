"""`veil proxy` against hostile and oversized requests: each gets its status, the connection is
closed, and the origin receives nothing."""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from test_proxy_fixtures import connect, exchange, origin, proxy, read_response  # noqa: E402

SMUGGLING = {
    "TE chunked then gzip": (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
                             b"5\r\nhello\r\n0\r\n\r\n", 400),
    "TE xchunked": (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n"
                    b"5\r\nhello\r\n0\r\n\r\n", 501),
    "TE gzip, chunked": (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                         b"0\r\n\r\n", 501),
    "TE + CL": (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"0\r\n\r\n", 400),
    "CL + TE": (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
                b"0\r\n\r\n", 400),
    "xchunked + CL": (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\nContent-Length: 5\r\n\r\n"
                      b"hello", 400),
    "TE in HTTP/1.0": (b"POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    "obs-fold": (b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n folded\r\n\r\n", 400),
    "obs-fold in TE": (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400),
    "missing Host": (b"GET / HTTP/1.1\r\nX: 1\r\n\r\n", 400),
    "two Hosts": (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    "CONNECT": (b"CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n", 400),
    "duplicate CL": (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400),
    "CL list": (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello", 400),
    "bare LF": (b"GET / HTTP/1.1\nHost: a\n\n", 400),
    "space before colon": (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
    "HTTP/2.0": (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    "absolute form vs Host": (b"GET http://evil.example/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
}


class LimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._origin = origin()
        cls.origin = cls._origin.__enter__()
        cls._proxy = proxy("--upstream", f"http://127.0.0.1:{cls.origin.server_address[1]}",
                           "--header-timeout", "2")
        cls.proxy = cls._proxy.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls._proxy.__exit__(None, None, None)
        cls._origin.__exit__(None, None, None)

    def assert_refused(self, raw, status, what):
        before = len(self.origin.requests)
        response, closed = exchange(self.proxy.port, raw)
        self.assertIsNotNone(response, what)
        self.assertEqual(response.status, status, what)
        self.assertEqual(response.header("Connection"), "close", what)
        self.assertTrue(closed, what)
        time.sleep(0.05)
        self.assertEqual(len(self.origin.requests), before, f"{what}: reached the origin")

    def test_smuggling_vectors_are_refused_and_never_forwarded(self):
        for what, (raw, status) in SMUGGLING.items():
            with self.subTest(what):
                self.assert_refused(raw, status, what)

    def test_smuggled_second_request_never_reaches_the_origin(self):
        hidden = b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
        raw = (b"POST /first HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n"
               b"%x\r\n%s\r\n0\r\n\r\n" % (len(hidden), hidden)) + hidden
        self.assert_refused(raw, 400, "chunked then identity")
        self.assertFalse(any(r["path"] == "/smuggled" for r in self.origin.requests))

    def test_malformed_chunked_body_gets_400_and_close(self):
        # The head was valid, so it is already on its way to the origin (bodies are streamed); the
        # origin never sees a complete request.
        for raw in (b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"3\r\nabcdef\r\n0\r\n\r\n"):
            response, closed = exchange(self.proxy.port, raw)
            self.assertEqual(response.status, 400)
            self.assertTrue(closed)
        self.assertFalse(any(r["method"] == "POST" for r in self.origin.requests))

    def test_size_limits(self):
        cases = {
            "long request line": (b"GET /" + b"a" * 8200 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
            "long header line": (b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"v" * 8200 + b"\r\n\r\n", 431),
            "too many fields": (b"GET / HTTP/1.1\r\nHost: a\r\n" +
                                b"".join(b"X-%d: 1\r\n" % i for i in range(101)) + b"\r\n", 431),
            "head too large": (b"GET / HTTP/1.1\r\nHost: a\r\n" +
                               b"".join(b"Cookie: %s\r\n" % (b"c" * 8000) for _ in range(5)) + b"\r\n", 431),
            "body too large (Content-Length)": (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n", 413),
        }
        for what, (raw, status) in cases.items():
            with self.subTest(what):
                self.assert_refused(raw, status, what)

    def test_large_council_cookie_jar_within_limits_passes(self):
        cookies = b"".join(b"Cookie: c%d=%s\r\n" % (i, b"v" * 7000) for i in range(4))
        response, _ = exchange(self.proxy.port, b"GET /echo HTTP/1.1\r\nHost: a\r\n" + cookies + b"\r\n",
                               check_closed=False)
        self.assertEqual(response.status, 200)

    def test_chunked_body_over_the_limit_gets_413(self):
        with connect(self.proxy.port) as sock:
            sock.sendall(b"POST /sink HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
            piece = b"%x\r\n%s\r\n" % (65536, b"b" * 65536)
            try:
                for _ in range(20):  # 1.25 MiB
                    sock.sendall(piece)
            except OSError:
                pass
            response = read_response(sock.makefile("rb"))
            self.assertEqual(response.status, 413)

    def test_slowloris_head_is_cut_off(self):
        with connect(self.proxy.port) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n")
            started = time.monotonic()
            closed = False
            try:
                for _ in range(40):
                    sock.sendall(b"X-Slow: 1\r\n")
                    time.sleep(0.25)
            except OSError:
                closed = True
            if not closed:
                sock.settimeout(10)
                try:
                    closed = sock.recv(1) == b""
                except (ConnectionResetError, socket.timeout):
                    closed = True
            self.assertTrue(closed)
            self.assertLess(time.monotonic() - started, 9)  # well before 40 trickled lines


if __name__ == "__main__":
    unittest.main()
