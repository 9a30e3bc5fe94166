"""Origin faults behind `veil proxy`: refused, reset mid-body, garbage, too slow. The client gets a
clean 502/504 (or a closed connection once the response had started) and the proxy keeps serving."""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from test_proxy_fixtures import exchange, origin, proxy, raw_origin  # noqa: E402

GET = b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n"


def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            break
        data += piece
    return data


class FaultsTest(unittest.TestCase):
    def assert_still_serving(self, good_port):
        with proxy("--upstream", f"http://127.0.0.1:{good_port}") as p:
            response, _ = exchange(p.port, GET, check_closed=False)
            self.assertEqual(response.status, 200)

    def test_refused_gives_502_and_the_proxy_keeps_serving(self):
        dead_port = harness.free_port()
        with origin() as good, proxy("--upstream", f"http://127.0.0.1:{dead_port}",
                                     "--upstream", f"good.example=http://127.0.0.1:{good.server_address[1]}") as p:
            for _ in range(3):
                response, _ = exchange(p.port, GET, check_closed=False)
                self.assertEqual(response.status, 502)
            response, _ = exchange(p.port, b"GET /echo HTTP/1.1\r\nHost: good.example\r\n\r\n",
                                   check_closed=False)
            self.assertEqual(response.status, 200)

    def test_garbage_gives_502(self):
        def handler(conn, received):
            received.append(read_head(conn))
            conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\nnot http at all\r\n\r\n")

        with raw_origin(handler) as (port, received), proxy("--upstream", f"http://127.0.0.1:{port}") as p:
            response, _ = exchange(p.port, GET, check_closed=False)
            self.assertEqual(response.status, 502)
            self.assertEqual(len(received), 1)

    def test_reset_before_response_gives_502(self):
        def handler(conn, received):
            received.append(read_head(conn))
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            conn.close()

        with raw_origin(handler) as (port, received), proxy("--upstream", f"http://127.0.0.1:{port}") as p:
            response, _ = exchange(p.port, GET, check_closed=False)
            self.assertEqual(response.status, 502)

    def test_reset_mid_body_closes_the_client_connection(self):
        def handler(conn, received):
            received.append(read_head(conn))
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"p" * 1000)
            time.sleep(0.2)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            conn.close()

        with raw_origin(handler) as (port, _), proxy("--upstream", f"http://127.0.0.1:{port}") as p:
            with socket.create_connection(("127.0.0.1", p.port), timeout=20) as sock:
                sock.sendall(GET)
                data = b""
                try:
                    while True:
                        piece = sock.recv(65536)
                        if not piece:
                            break
                        data += piece
                except ConnectionResetError:
                    pass
            self.assertTrue(data.startswith(b"HTTP/1.1 200"))
            self.assertLess(len(data.split(b"\r\n\r\n", 1)[1]), 100000)  # cut short, not padded

    def test_too_slow_gives_504(self):
        with origin() as server, proxy("--upstream", f"http://127.0.0.1:{server.server_address[1]}",
                                       "--upstream-timeout", "1") as p:
            started = time.monotonic()
            response, _ = exchange(p.port, b"GET /slow?s=4 HTTP/1.1\r\nHost: a\r\n\r\n", check_closed=False)
            self.assertEqual(response.status, 504)
            self.assertLess(time.monotonic() - started, 3.5)
            response, _ = exchange(p.port, b"GET /echo HTTP/1.1\r\nHost: a\r\n\r\n", check_closed=False)
            self.assertEqual(response.status, 200)

    def test_stale_pooled_connection_is_retried_for_get(self):
        # The origin answers one request per connection with keep-alive promised, then closes.
        def handler(conn, received):
            received.append(read_head(conn))
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            time.sleep(0.1)

        with raw_origin(handler) as (port, received), proxy("--upstream", f"http://127.0.0.1:{port}") as p:
            for _ in range(3):
                response, _ = exchange(p.port, GET, check_closed=False)
                self.assertEqual(response.status, 200)
                time.sleep(0.3)
            self.assertEqual(len(received), 3)


if __name__ == "__main__":
    unittest.main()
