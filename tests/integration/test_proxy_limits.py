"""`veil proxy` limits that take a streamed body or time to reach: a chunked body over the body
limit, a chunk line that never ends, a head trickled byte by byte. The table of malformed and
oversized requests is test_proxy_hostile.py."""

import os
import select
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from test_proxy_fixtures import connect, origin, proxy, read_response  # noqa: E402


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

    def test_endless_chunk_line_is_cut_off_with_bounded_memory(self):
        # Beast buffers a chunk-size line (with its extensions) until its CRLF: without a bound on
        # the connection's buffer one client could make the proxy hold any amount of memory.
        before = harness.rss_kib(self.proxy.process.pid)
        with connect(self.proxy.port) as sock:
            sock.sendall(b"POST /sink HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;x=")
            sent = 0
            while sent < 64 << 20 and not select.select([sock], [], [], 0)[0]:
                try:
                    sock.sendall(b"e" * 65536)  # stops as soon as the proxy answers
                except OSError:
                    break
                sent += 65536
            response = read_response(sock.makefile("rb"))
        self.assertEqual(response.status, 400)
        self.assertLess(sent, 4 << 20)
        self.assertLess(harness.rss_kib(self.proxy.process.pid) - before, 16 * 1024)

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
