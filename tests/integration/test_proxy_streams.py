"""`veil proxy` with long-lived and large streams: an Upgrade tunnel, TLS, a 200 MB body each way
without the proxy's memory growing, a drain on SIGTERM with a request in flight, and no client
address in anything the proxy prints."""

import hashlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from test_proxy_fixtures import connect, exchange, origin, proxy, raw_origin, read_response  # noqa: E402


class StreamsTest(unittest.TestCase):
    def test_upgrade_is_tunnelled_byte_for_byte(self):
        def handler(conn, received):
            head = b""
            while b"\r\n\r\n" not in head:
                head += conn.recv(65536)
            received.append(head)
            head, _, early = head.partition(b"\r\n\r\n")
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\n\r\nwelcome;")
            data = early
            while True:
                if data:
                    conn.sendall(data.upper())
                data = conn.recv(65536)
                if not data:
                    conn.sendall(b"bye")
                    return

        with raw_origin(handler) as (port, received), proxy("--upstream", f"http://127.0.0.1:{port}") as p:
            with connect(p.port) as sock:
                # Bytes sent right behind the head must not be lost.
                sock.sendall(b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
                             b"early\x00\xff")
                rfile = sock.makefile("rb")
                response = read_response(rfile)
                self.assertEqual(response.status, 101)
                self.assertEqual(response.header("Upgrade"), "websocket")
                self.assertEqual(rfile.read(8), b"welcome;")
                self.assertEqual(rfile.read(7), b"EARLY\x00\xff")
                sock.sendall(b"ping")
                self.assertEqual(rfile.read(4), b"PING")
                sock.shutdown(socket.SHUT_WR)
                self.assertEqual(rfile.read(), b"bye")
            forwarded = received[0].lower()
            self.assertIn(b"upgrade: websocket", forwarded)
            self.assertIn(b"connection: upgrade", forwarded)

    def test_tls(self):
        with harness.temp_dir() as tmp:
            cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                            "-subj", "/CN=localhost", "-keyout", key, "-out", cert],
                           check=True, capture_output=True, timeout=60)
            with origin() as server, proxy("--upstream", f"http://127.0.0.1:{server.server_address[1]}",
                                           "--tls-cert", cert, "--tls-key", key) as p:
                result = subprocess.run(["curl", "-sS", "--max-time", "30", "--cacert", cert,
                                         "--resolve", f"localhost:{p.port}:127.0.0.1",
                                         f"https://localhost:{p.port}/echo",
                                         f"https://localhost:{p.port}/echo"],
                                        capture_output=True, timeout=40)
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertEqual(result.stdout.count(b'"method": "GET"'), 2)
                headers = dict((k.lower(), v) for k, v in server.requests[0]["headers"])
                self.assertEqual(headers["x-forwarded-proto"], "https")
                # Plain HTTP on the TLS port is not served.
                response, _ = exchange(p.port, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", timeout=15)
                self.assertIsNone(response)

    def test_200_mb_each_way_streams_in_bounded_memory(self):
        size = 200 * 1024 * 1024
        with origin() as server, proxy("--upstream", f"http://127.0.0.1:{server.server_address[1]}",
                                       "--threads", "1", "--max-body-bytes", str(size)) as p:
            exchange(p.port, b"GET /echo HTTP/1.1\r\nHost: a\r\n\r\n", check_closed=False)
            baseline = harness.rss_kib(p.process.pid)
            peak = [baseline]
            done = threading.Event()

            def sample():
                while not done.is_set():
                    peak[0] = max(peak[0], harness.rss_kib(p.process.pid))
                    time.sleep(0.05)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            try:
                # Download: the origin sends 200 MB with Content-Length.
                with connect(p.port, timeout=120) as sock:
                    sock.sendall(b"GET /large?n=%d HTTP/1.1\r\nHost: a\r\n\r\n" % size)
                    rfile = sock.makefile("rb")
                    line = rfile.readline()
                    self.assertIn(b" 200 ", line)
                    while rfile.readline() not in (b"\r\n", b""):
                        pass
                    # Every byte in its place (byte k is k % 256): a write the proxy split
                    # between what the socket took at once and what it sent later must not
                    # repeat, drop or reorder anything.
                    pattern = bytes(range(256)) * ((1 << 20) // 256 + 1)
                    got = 0
                    while got < size:
                        piece = rfile.read(min(1 << 20, size - got))
                        if not piece:
                            break
                        start = got % 256
                        self.assertTrue(piece == pattern[start:start + len(piece)],
                                        f"the body differs from the origin's after byte {got}")
                        got += len(piece)
                    self.assertEqual(got, size)
                # Upload: 200 MB chunked, checked by the origin's digest.
                digest = hashlib.sha256()
                block = bytes(range(256)) * 256
                with connect(p.port, timeout=120) as sock:
                    sock.sendall(b"POST /sink HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
                    for _ in range(size // len(block)):
                        sock.sendall(b"%x\r\n%s\r\n" % (len(block), block))
                        digest.update(block)
                    sock.sendall(b"0\r\n\r\n")
                    response = read_response(sock.makefile("rb"))
                    self.assertEqual(response.status, 200)
                    self.assertEqual(response.json()["body"], f"{digest.hexdigest()} {size}")
            finally:
                done.set()
                sampler.join()
            self.assertLess(peak[0] - baseline, 32 * 1024, f"RSS grew from {baseline} to {peak[0]} KiB")

    def test_sigterm_drains_a_request_in_flight_and_exits_0(self):
        with origin() as server, proxy("--upstream", f"http://127.0.0.1:{server.server_address[1]}") as p:
            results = {}

            def slow_request():
                results["response"], _ = exchange(p.port, b"GET /slow?s=2 HTTP/1.1\r\nHost: a\r\n\r\n",
                                                  check_closed=False)

            idle = connect(p.port)  # an idle keep-alive connection must not hold the drain up
            worker = threading.Thread(target=slow_request)
            worker.start()
            time.sleep(0.7)
            p.process.send_signal(signal.SIGTERM)
            worker.join(30)
            self.assertEqual(results["response"].status, 200)
            self.assertEqual(results["response"].header("Connection"), "close")
            self.assertEqual(p.process.wait(timeout=20), 0)
            idle.settimeout(5)
            self.assertEqual(idle.recv(1), b"")
            idle.close()

    def test_no_client_address_in_anything_printed(self):
        with origin() as server, proxy("--upstream", f"http://127.0.0.1:{server.server_address[1]}",
                                       "--trusted-proxy", "127.0.0.0/8") as p:
            sent = "198.51.100.77"
            for raw in (b"GET /echo HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: %s\r\n\r\n" % sent.encode(),
                        b"GET / HTTP/1.1\r\nX-Forwarded-For: %s\r\n\r\n" % sent.encode(),
                        b"GET /slow?s=0 HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: %s\r\n\r\nGARBAGE\r\n\r\n"
                        % sent.encode()):
                exchange(p.port, raw, check_closed=False)
            p.process.send_signal(signal.SIGTERM)
            p.process.wait(timeout=20)
            printed = p.output()
            self.assertIn(b"listening", printed)  # the output was captured at all
            self.assertNotIn(sent.encode(), printed)


if __name__ == "__main__":
    unittest.main()
