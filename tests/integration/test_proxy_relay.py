"""`veil proxy` relaying between real clients and a real origin: routing, keep-alive, pipelining,
chunked bodies both ways, HEAD, 100-continue, forwarding headers."""

import hashlib
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from test_proxy_fixtures import (connect, exchange, origin, proxy,  # noqa: E402
                                 read_response)


def curl(*args, timeout=60):
    return subprocess.run(["curl", "-sS", "--max-time", str(timeout), *args], capture_output=True,
                          timeout=timeout + 10)


class RelayTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._origin = origin("main")
        cls.origin = cls._origin.__enter__()
        cls._other = origin("other")
        cls.other = cls._other.__enter__()
        cls._wild = origin("wild")
        cls.wild = cls._wild.__enter__()
        cls._proxy = proxy("--upstream", f"http://127.0.0.1:{cls.origin.server_address[1]}",
                           "--upstream",
                           f"*.other.example=http://127.0.0.1:{cls.wild.server_address[1]}",
                           "--upstream",
                           f"Other.Example,www.other.example=http://127.0.0.1:{cls.other.server_address[1]}",
                           "--threads", "2")
        cls.proxy = cls._proxy.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls._proxy.__exit__(None, None, None)
        cls._wild.__exit__(None, None, None)
        cls._other.__exit__(None, None, None)
        cls._origin.__exit__(None, None, None)

    def request(self, raw, method="GET"):
        response, _ = exchange(self.proxy.port, raw, method, check_closed=False)
        self.assertIsNotNone(response)
        return response

    def test_get_is_relayed_with_forwarding_fields(self):
        result = curl("-H", "X-Forwarded-For: 203.0.113.9", "-H", "X_Forwarded_For: 198.51.100.1",
                      self.proxy.url("/echo?x=1"))
        self.assertEqual(result.returncode, 0, result.stderr)
        record = json.loads(result.stdout)
        headers = {k.lower(): v for k, v in record["headers"]}
        self.assertEqual(record["path"], "/echo?x=1")
        self.assertEqual(record["origin"], "main")
        # An untrusted peer's chain is replaced, look-alike names are dropped.
        self.assertEqual(headers["x-forwarded-for"], "127.0.0.1")
        self.assertNotIn("x_forwarded_for", headers)
        self.assertEqual(headers["x-forwarded-proto"], "http")
        self.assertEqual(headers["via"], "1.1 veil")
        self.assertEqual(headers["host"], f"127.0.0.1:{self.proxy.port}")

    def test_routing_by_host(self):
        # The wildcard upstream comes first, yet exact names win over it.
        for host, expected in (("other.example", "other"), ("WWW.OTHER.EXAMPLE:8080", "other"),
                               ("news.other.example", "wild"), ("a.b.Other.Example:80", "wild"),
                               ("council.example", "main")):
            response = self.request(f"GET /echo HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            self.assertEqual(response.json()["origin"], expected, host)

    def test_keep_alive_and_pipelined_requests_answered_in_order(self):
        with connect(self.proxy.port) as sock:
            sock.sendall(b"".join(
                f"GET /echo?n={i} HTTP/1.1\r\nHost: a\r\n\r\n".encode() for i in range(5)))
            rfile = sock.makefile("rb")
            paths = [read_response(rfile).json()["path"] for _ in range(5)]
            self.assertEqual(paths, [f"/echo?n={i}" for i in range(5)])
            sock.sendall(b"GET /echo?n=again HTTP/1.1\r\nHost: a\r\n\r\n")
            self.assertEqual(read_response(rfile).json()["path"], "/echo?n=again")

    def test_chunked_request_body_and_trailers_reach_the_origin(self):
        raw = (b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n")
        record = self.request(raw).json()
        self.assertEqual(record["body"], "hello world")
        self.assertEqual(record["trailers"], ["X-Sum: 42"])

    def test_chunked_response_with_trailers_reaches_the_client(self):
        response = self.request(b"GET /chunked HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n")
        self.assertEqual(response.body, b"first,second,third")
        self.assertEqual(response.header("Transfer-Encoding"), "chunked")
        self.assertEqual(response.trailers, ["X-Checksum: abc123"])

    def test_close_delimited_response_is_rechunked_for_a_keep_alive_client(self):
        with connect(self.proxy.port) as sock:
            rfile = sock.makefile("rb")
            sock.sendall(b"GET /close-delimited HTTP/1.1\r\nHost: a\r\n\r\n")
            response = read_response(rfile)
            self.assertEqual(response.body, b"no length, ends at close")
            self.assertEqual(response.header("Transfer-Encoding"), "chunked")
            sock.sendall(b"GET /echo HTTP/1.1\r\nHost: a\r\n\r\n")
            self.assertEqual(read_response(rfile).status, 200)

    def test_close_delimited_response_to_http10_client_closes(self):
        response, closed = exchange(self.proxy.port, b"GET /close-delimited HTTP/1.0\r\n\r\n")
        self.assertEqual(response.body, b"no length, ends at close")
        self.assertTrue(closed)

    def test_head(self):
        with connect(self.proxy.port) as sock:
            rfile = sock.makefile("rb")
            sock.sendall(b"HEAD /echo HTTP/1.1\r\nHost: a\r\n\r\n")
            response = read_response(rfile, "HEAD")
            self.assertEqual(response.status, 200)
            self.assertGreater(int(response.header("Content-Length")), 0)
            sock.sendall(b"GET /echo HTTP/1.1\r\nHost: a\r\n\r\n")  # framing intact afterwards
            self.assertEqual(read_response(rfile).json()["method"], "GET")

    def test_expect_100_continue(self):
        with connect(self.proxy.port) as sock:
            rfile = sock.makefile("rb")
            sock.sendall(b"PUT /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
                         b"Expect: 100-continue\r\n\r\n")
            interim = read_response(rfile)
            self.assertEqual(interim.status, 100)
            sock.sendall(b"data")
            final = read_response(rfile)
            self.assertEqual(final.json()["body"], "data")
            headers = {k.lower() for k, _ in final.json()["headers"]}
            self.assertNotIn("expect", headers)

    def test_hop_by_hop_fields_are_not_forwarded(self):
        raw = (b"GET /echo HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Secret\r\n"
               b"X-Secret: 1\r\nKeep-Alive: timeout=5\r\nProxy-Connection: x\r\nTE: trailers\r\n\r\n")
        headers = {k.lower() for k, _ in self.request(raw).json()["headers"]}
        for name in ("x-secret", "keep-alive", "proxy-connection", "te"):
            self.assertNotIn(name, headers)

    def test_absolute_form_target_becomes_origin_form(self):
        record = self.request(b"GET http://other.example/echo?q HTTP/1.1\r\nHost: other.example\r\n\r\n").json()
        self.assertEqual(record["path"], "/echo?q")
        self.assertEqual(record["origin"], "other")

    def test_admin_listener_answers_locally_and_counts_exchanges(self):
        self.request(b"GET /echo HTTP/1.1\r\nHost: other.example\r\n\r\n")
        response, _ = exchange(self.proxy.admin_port, b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
                               check_closed=False)
        self.assertEqual(response.status, 200)
        response, _ = exchange(self.proxy.admin_port, b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n",
                               check_closed=False)
        self.assertEqual(response.status, 200)
        other_name = f'upstream="127.0.0.1:{self.other.server_address[1]}"'
        other = [line for line in response.body.decode().splitlines()
                 if line.startswith("veil_http_requests_total") and other_name in line and "2xx" in line]
        self.assertTrue(other, response.body.decode()[:2000])
        self.assertGreaterEqual(float(other[0].split()[-1]), 1)
        # The admin port never proxies.
        response, _ = exchange(self.proxy.admin_port, b"GET /echo HTTP/1.1\r\nHost: a\r\n\r\n",
                               check_closed=False)
        self.assertEqual(response.status, 404)

    def test_curl_post_large_body_with_content_length(self):
        body = b"z" * 300_000
        result = subprocess.run(["curl", "-sS", "--max-time", "60", "--data-binary", "@-",
                                 self.proxy.url("/sink")], input=body, capture_output=True, timeout=70)
        record = json.loads(result.stdout)
        self.assertEqual(record["body"], f"{hashlib.sha256(body).hexdigest()} {len(body)}")


if __name__ == "__main__":
    unittest.main()
