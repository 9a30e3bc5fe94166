"""`veil proxy` against a table of malformed and ambiguous requests, sent on raw sockets to a real
proxy in front of real origins that record every byte and every complete request they receive.

Each row gives the bytes, the expected status (or CLOSED: no response at all), whether the proxy
must close the connection, and the requests the origin must see (none for a rejected request). After
every row's bytes the same send carries a pipelined follow-up request: a rejected row must close the
connection before the follow-up is read, so the follow-up never reaches the origin either; an
accepted row must leave the connection in step, so the follow-up is answered too. Smuggling rows
hide a request at /smuggled in their body: the origin must never see it."""

import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from test_proxy_fixtures import closed_by_peer, connect, proxy, read_response  # noqa: E402

CLOSED = "closed"
FOLLOW_UP = b"GET /follow-up HTTP/1.1\r\nHost: a\r\n\r\n"
HIDDEN = b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
UPSTREAM_AUTHORITY = "upstream authority"  # the Host veil adds: the origin's address as configured


class Row:
    def __init__(self, name, raw, status, close=True, forwarded=(), head_may_reach_origin=False,
                 half_close=False, follow_up=True):
        self.name = name
        self.raw = raw
        self.status = status  # an int, or CLOSED
        self.close = close
        # (origin, target, host, body) of each complete request the origin must receive.
        self.forwarded = list(forwarded)
        # Rejections found in the body: the head was already streamed to the origin, which must
        # still never receive a complete request.
        self.head_may_reach_origin = head_may_reach_origin
        self.half_close = half_close  # the client ends its side after sending (incomplete requests)
        self.follow_up = follow_up and not half_close


def post(fields, body=b"", start=b"POST /p HTTP/1.1", host=b"Host: a\r\n"):
    return start + b"\r\n" + host + fields + b"\r\n" + body


def chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


# A chunked body whose single chunk is a complete request: read as chunked it is data; read by any
# other framing the chunk lines are garbage and the hidden request a second request.
SMUGGLING_BODY = chunk(HIDDEN) + b"0\r\n\r\n" + HIDDEN


def rejected(name, raw, status, **kwargs):
    return Row(name, raw, status, close=True, **kwargs)


def accepted(name, raw, status=200, forwarded=(), close=False, **kwargs):
    return Row(name, raw, status, close=close, forwarded=forwarded, **kwargs)


ROWS = [
    # --- control rows: the table can tell accepted from rejected ---
    accepted("plain GET", b"GET /plain HTTP/1.1\r\nHost: a\r\n\r\n", forwarded=[("a", "/plain", "a", b"")]),
    accepted("POST with Content-Length", post(b"Content-Length: 5\r\n", b"hello"),
             forwarded=[("a", "/p", "a", b"hello")]),
    accepted("POST chunked", post(b"Transfer-Encoding: chunked\r\n", chunk(b"hello") + b"0\r\n\r\n"),
             forwarded=[("a", "/p", "a", b"hello")]),

    # --- CL/TE smuggling ---
    rejected("CL then TE", post(b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", SMUGGLING_BODY), 400),
    rejected("TE then CL", post(b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", SMUGGLING_BODY), 400),
    rejected("TE chunked, identity", post(b"Transfer-Encoding: chunked, identity\r\n", SMUGGLING_BODY), 400),
    rejected("TE chunked, gzip", post(b"Transfer-Encoding: chunked, gzip\r\n", SMUGGLING_BODY), 400),
    rejected("TE identity", post(b"Transfer-Encoding: identity\r\n", SMUGGLING_BODY), 400),
    rejected("TE xchunked", post(b"Transfer-Encoding: xchunked\r\n", SMUGGLING_BODY), 501),
    rejected("TE gzip, chunked", post(b"Transfer-Encoding: gzip, chunked\r\n", SMUGGLING_BODY), 501),
    rejected("TE xchunked with CL", post(b"Transfer-Encoding: xchunked\r\nContent-Length: %d\r\n"
                                         % len(SMUGGLING_BODY), SMUGGLING_BODY), 400),
    rejected("TE twice", post(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                              SMUGGLING_BODY), 400),
    rejected("TE ,chunked", post(b"Transfer-Encoding: ,chunked\r\n", SMUGGLING_BODY), 400),
    rejected("TE empty", post(b"Transfer-Encoding: \r\n", SMUGGLING_BODY), 400),
    rejected("TE in HTTP/1.0", post(b"Transfer-Encoding: chunked\r\n", SMUGGLING_BODY,
                                    start=b"POST /p HTTP/1.0"), 400),
    rejected("TE with space before colon", post(b"Transfer-Encoding : chunked\r\nContent-Length: 4\r\n",
                                                SMUGGLING_BODY), 400),
    rejected("TE obs-folded", post(b"Transfer-Encoding:\r\n chunked\r\n", SMUGGLING_BODY), 400),
    rejected("TE chunked with NUL", post(b"Transfer-Encoding: chunked\x00\r\n", SMUGGLING_BODY), 400),
    rejected("TE behind a bare LF", post(b"X: 1\nTransfer-Encoding: chunked\r\n", SMUGGLING_BODY), 400),

    # --- Content-Length ---
    rejected("CL twice, equal", post(b"Content-Length: 5\r\nContent-Length: 5\r\n", b"hello" + HIDDEN), 400),
    rejected("CL twice, different", post(b"Content-Length: 5\r\nContent-Length: 42\r\n", b"hello" + HIDDEN),
             400),
    rejected("CL list", post(b"Content-Length: 5, 5\r\n", b"hello" + HIDDEN), 400),
    rejected("CL signed +", post(b"Content-Length: +5\r\n", b"hello" + HIDDEN), 400),
    rejected("CL signed -", post(b"Content-Length: -5\r\n", b"hello" + HIDDEN), 400),
    rejected("CL with inner space", post(b"Content-Length: 1 5\r\n", b"hello" + HIDDEN), 400),
    rejected("CL hex", post(b"Content-Length: 0x5\r\n", b"hello" + HIDDEN), 400),
    rejected("CL empty", post(b"Content-Length: \r\n", b"hello" + HIDDEN), 400),
    rejected("CL beyond 64 bits", post(b"Content-Length: 18446744073709551621\r\n", b"hello" + HIDDEN), 400),
    rejected("CL over the body limit", post(b"Content-Length: 2000000\r\n"), 413),
    accepted("CL with leading zeros", post(b"Content-Length: 005\r\n", b"hello"),
             forwarded=[("a", "/p", "a", b"hello")]),
    accepted("CL with surrounding whitespace", post(b"Content-Length:  5 \r\n", b"hello"),
             forwarded=[("a", "/p", "a", b"hello")]),

    # --- chunked bodies: the head is valid and already on its way; the body never completes ---
    rejected("chunk size wraps 64 bits", post(b"Transfer-Encoding: chunked\r\n",
                                              b"10000000000000005\r\nhello\r\n0\r\n\r\n" + HIDDEN), 400,
             head_may_reach_origin=True),
    rejected("chunk size 0x-prefixed", post(b"Transfer-Encoding: chunked\r\n", b"0x5\r\nhello\r\n0\r\n\r\n"),
             400, head_may_reach_origin=True),
    rejected("chunk size signed", post(b"Transfer-Encoding: chunked\r\n", b"+5\r\nhello\r\n0\r\n\r\n"),
             400, head_may_reach_origin=True),
    rejected("chunk size not hex", post(b"Transfer-Encoding: chunked\r\n", b"zz\r\n"), 400,
             head_may_reach_origin=True),
    rejected("chunk longer than its size", post(b"Transfer-Encoding: chunked\r\n",
                                                b"3\r\nabcdef\r\n0\r\n\r\n"), 400, head_may_reach_origin=True),
    rejected("chunk with bare LF", post(b"Transfer-Encoding: chunked\r\n", b"5\nhello\n0\n\n"), 400,
             head_may_reach_origin=True),
    rejected("chunk extension without a name", post(b"Transfer-Encoding: chunked\r\n",
                                                    b"5;\r\nhello\r\n0\r\n\r\n"), 400,
             head_may_reach_origin=True),
    rejected("chunk extension with a bare CR", post(b"Transfer-Encoding: chunked\r\n",
                                                    b"5;a=\rb\r\nhello\r\n0\r\n\r\n"), 400,
             head_may_reach_origin=True),
    rejected("last chunk then a request as a trailer", post(b"Transfer-Encoding: chunked\r\n",
                                                            b"0\r\n" + HIDDEN), 400,
             head_may_reach_origin=True),
    rejected("chunk extension of 1 MiB", post(b"Transfer-Encoding: chunked\r\n",
                                              b"5;x=" + b"e" * (1 << 20) + b"\r\nhello\r\n0\r\n\r\n"), 400,
             head_may_reach_origin=True),
    accepted("chunk extensions, quoted", post(b"Transfer-Encoding: chunked\r\n",
                                              b"5;name=\"v;a\\\"l\";b=c\r\nhello\r\n0\r\n\r\n"),
             forwarded=[("a", "/p", "a", b"hello")]),
    rejected("malformed chunk to a local endpoint", post(b"Transfer-Encoding: chunked\r\n", b"zz\r\n",
                                                         start=b"POST /_veil/consent HTTP/1.1"), 400),
    rejected("trailer with a bare CR to a local endpoint",
             post(b"Transfer-Encoding: chunked\r\n", b"0\r\nX: a\rb\r\n\r\n",
                  start=b"POST /_veil/consent HTTP/1.1"), 400),
    Row("body shorter than its Content-Length, then EOF", post(b"Content-Length: 10\r\n", b"hello"), CLOSED,
        head_may_reach_origin=True, half_close=True),
    Row("head never completed, then EOF", b"GET / HTTP/1.1\r\nHost: a\r\n", CLOSED, half_close=True),

    # --- line endings, control characters, folding ---
    rejected("bare LF line ends", b"GET / HTTP/1.1\nHost: a\n\n", 400),
    rejected("bare LF after the request line", b"GET / HTTP/1.1\nHost: a\r\n\r\n", 400),
    rejected("bare CR in the target", b"GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    rejected("bare CR in a value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400),
    rejected("bare CR as a line end", b"GET / HTTP/1.1\rHost: a\r\r\n\r\n", 400),
    rejected("NUL in the target", b"GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    rejected("NUL in a value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400),
    rejected("NUL in a name", b"GET / HTTP/1.1\r\nHost: a\r\nX\x00Y: 1\r\n\r\n", 400),
    rejected("DEL in a value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n", 400),
    rejected("obs-fold", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n folded\r\n\r\n", 400),
    rejected("obs-fold with a tab", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\tfolded\r\n\r\n", 400),
    rejected("whitespace before the first field", b"GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400),

    # --- sizes (defaults: 8 KiB per line, 32 KiB and 100 fields in all) ---
    rejected("request line too long", b"GET /" + b"a" * 8200 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
    rejected("field line too long", b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"v" * 8200 + b"\r\n\r\n", 431),
    rejected("too many fields", b"GET / HTTP/1.1\r\nHost: a\r\n"
             + b"".join(b"X-%d: 1\r\n" % i for i in range(101)) + b"\r\n", 431),
    rejected("head too large", b"GET / HTTP/1.1\r\nHost: a\r\n"
             + b"".join(b"Cookie: %s\r\n" % (b"c" * 8000) for _ in range(5)) + b"\r\n", 431),
    accepted("council cookie jar within the limits", b"GET /jar HTTP/1.1\r\nHost: a\r\n"
             + b"".join(b"Cookie: c%d=%s\r\n" % (i, b"v" * 7000) for i in range(4)) + b"\r\n",
             forwarded=[("a", "/jar", "a", b"")]),
    accepted("99 fields besides Host", b"GET /many HTTP/1.1\r\nHost: a\r\n"
             + b"".join(b"X-%d: 1\r\n" % i for i in range(99)) + b"\r\n",
             forwarded=[("a", "/many", "a", b"")]),

    # --- methods (case-sensitive tokens, RFC 9110 §9.1) ---
    rejected("method with a non-token character", b"G(ET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    rejected("empty method", b" / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    rejected("mixed-case method", b"Get / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    rejected("lower-case method", b"get / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    rejected("two spaces after the method", b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    rejected("tabs as separators", b"GET\t/\tHTTP/1.1\r\nHost: a\r\n\r\n", 400),
    accepted("extension method", b"PROPFIND /dav HTTP/1.1\r\nHost: a\r\n\r\n", forwarded=[("a", "/dav", "a", b"")]),

    # --- versions ---
    rejected("HTTP/2.0", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    rejected("HTTP/1.2", b"GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505),
    rejected("HTTP/1.10", b"GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400),
    rejected("HTTP/0.9 request line", b"GET /\r\n\r\n", 400),
    rejected("lower-case http/1.1", b"GET / http/1.1\r\nHost: a\r\n\r\n", 400),
    rejected("no version", b"GET / \r\nHost: a\r\n\r\n", 400),
    rejected("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),

    # --- request targets ---
    accepted("absolute-form routes by its authority", b"GET http://b.example/x?q=1 HTTP/1.1\r\nHost: b.example\r\n\r\n",
             forwarded=[("b", "/x?q=1", "b.example", b"")]),
    accepted("absolute-form in HTTP/1.0 without Host", b"GET http://b.example/y HTTP/1.0\r\n\r\n",
             forwarded=[("b", "/y", "b.example", b"")], close=True, follow_up=False),
    accepted("absolute-form without a path", b"GET http://b.example HTTP/1.1\r\nHost: b.example\r\n\r\n",
             forwarded=[("b", "/", "b.example", b"")]),
    rejected("absolute-form authority differs from Host", b"GET http://b.example/ HTTP/1.1\r\nHost: a\r\n\r\n",
             400),
    rejected("absolute-form with userinfo", b"GET http://u@b.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n", 400),
    rejected("absolute-form with an empty authority", b"GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    rejected("absolute-form with another scheme", b"GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    rejected("authority-form CONNECT", b"CONNECT b.example:443 HTTP/1.1\r\nHost: b.example:443\r\n\r\n", 400),
    rejected("authority-form with GET", b"GET b.example:80 HTTP/1.1\r\nHost: b.example\r\n\r\n", 400),
    accepted("asterisk-form OPTIONS", b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", forwarded=[("a", "*", "a", b"")]),
    rejected("asterisk-form with GET", b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400),

    # --- Host ---
    rejected("Host missing", b"GET / HTTP/1.1\r\nX: 1\r\n\r\n", 400),
    rejected("Host twice", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b.example\r\n\r\n", 400),
    rejected("Host twice, equal", b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),
    rejected("Host with userinfo", b"GET / HTTP/1.1\r\nHost: u@b.example\r\n\r\n", 400),
    rejected("Host empty", b"GET / HTTP/1.1\r\nHost: \r\n\r\n", 400),
    rejected("Host with a space", b"GET / HTTP/1.1\r\nHost: a b.example\r\n\r\n", 400),
    rejected("Host with a path", b"GET / HTTP/1.1\r\nHost: b.example/x\r\n\r\n", 400),
    accepted("Host routes case-insensitively, port ignored", b"GET /h HTTP/1.1\r\nHost: B.Example:8080\r\n\r\n",
             forwarded=[("b", "/h", "B.Example:8080", b"")]),
    accepted("HTTP/1.0 without Host goes to the default site with a Host added", b"GET /old HTTP/1.0\r\n\r\n",
             forwarded=[("a", "/old", UPSTREAM_AUTHORITY, b"")], close=True, follow_up=False),

    # --- field names ---
    rejected("space before the colon", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
    rejected("tab before the colon", b"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400),
    rejected("space inside a name", b"GET / HTTP/1.1\r\nHost: a\r\nX Y: 1\r\n\r\n", 400),
    rejected("empty name", b"GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", 400),
    rejected("field line without a colon", b"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400),
    rejected("non-token character in a name", b"GET / HTTP/1.1\r\nHost: a\r\nX(Y): 1\r\n\r\n", 400),

    # --- expectations ---
    rejected("unknown expectation", b"GET / HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\n\r\n", 417),
]


class RecordingOrigin:
    """An HTTP/1.1 origin on 127.0.0.1 that counts every byte it receives and records every complete
    request (request line, fields, de-chunked body) it can parse, answering each with 200 and
    keeping the connection. Anything it cannot parse is recorded as such and the connection closed."""

    def __init__(self, name):
        self.name = name
        self.lock = threading.Lock()
        self.bytes_received = 0
        self.requests = []
        self.unparsed = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def close(self):
        self.stop.set()
        self.thread.join()
        self.listener.close()

    def snapshot(self):
        with self.lock:
            return self.bytes_received, len(self.requests)

    def _accept(self):
        self.listener.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            conn.settimeout(60)
            data = b""
            try:
                while not self.stop.is_set():
                    piece = conn.recv(65536)
                    if not piece:
                        return
                    with self.lock:
                        self.bytes_received += len(piece)
                    data += piece
                    while True:
                        parsed = self._parse(data)
                        if parsed is None:
                            break
                        if parsed == "bad":
                            with self.lock:
                                self.unparsed.append(data)
                            return
                        request, data = parsed
                        with self.lock:
                            self.requests.append(request)
                        body = b"%s %s" % (request["method"].encode(), request["target"].encode())
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            except OSError:
                return

    @staticmethod
    def _parse(data):
        """(request, rest) for the first complete request in `data`, None if incomplete, "bad"."""
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return None
        lines = data[:end].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            return "bad"
        headers = []
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon:
                return "bad"
            headers.append((name.lower(), value.strip()))
        fields = dict(headers)
        rest = data[end + 4:]
        if fields.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                line_end = rest.find(b"\r\n")
                if line_end < 0:
                    return None
                try:
                    size = int(rest[:line_end].split(b";")[0], 16)
                except ValueError:
                    return "bad"
                if size == 0:
                    start = line_end + 2
                    while True:  # trailer lines up to the empty one
                        trailer_end = rest.find(b"\r\n", start)
                        if trailer_end < 0:
                            return None
                        if trailer_end == start:
                            break
                        start = trailer_end + 2
                    rest = rest[start + 2:]
                    break
                if len(rest) < line_end + 2 + size + 2:
                    return None
                body += rest[line_end + 2:line_end + 2 + size]
                rest = rest[line_end + 2 + size + 2:]
        else:
            length = int(fields.get("content-length", "0"))
            if len(rest) < length:
                return None
            body, rest = rest[:length], rest[length:]
        request = {"method": parts[0], "target": parts[1], "version": parts[2], "headers": headers,
                   "host": fields.get("host"), "body": body}
        return request, rest


class HostileRequestsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.origins = {"a": RecordingOrigin("a"), "b": RecordingOrigin("b")}
        cls._proxy = proxy("--upstream", f"http://127.0.0.1:{cls.origins['a'].port}",
                           "--upstream", f"b.example=http://127.0.0.1:{cls.origins['b'].port}",
                           "--header-timeout", "5")
        cls.proxy = cls._proxy.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls._proxy.__exit__(None, None, None)
        for origin in cls.origins.values():
            origin.close()

    def test_the_table_is_large_and_its_names_unique(self):
        self.assertGreaterEqual(len(ROWS), 40)
        self.assertEqual(len({row.name for row in ROWS}), len(ROWS))

    def test_each_row(self):
        for row in ROWS:
            with self.subTest(row.name):
                self.check_row(row)

    def send_row(self, row):
        """Sends the row (and the follow-up); returns (responses read, whether the proxy closed)."""
        responses = []
        with connect(self.proxy.port, timeout=20) as sock:
            try:
                sock.sendall(row.raw + (FOLLOW_UP if row.follow_up else b""))
                if row.half_close:
                    sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the proxy may close while a long request is still being sent
            rfile = sock.makefile("rb")
            method = row.raw.split(b" ", 1)[0].decode("latin-1")
            for expected_method in (method, "GET") if row.follow_up else (method,):
                try:
                    responses.append(read_response(rfile, expected_method))
                except (ConnectionError, OSError, ValueError, IndexError):
                    return responses, True
            return responses, closed_by_peer(sock, wait=0.5 if not row.close else 10.0)

    def check_row(self, row):
        before = {name: origin.snapshot() for name, origin in self.origins.items()}
        responses, closed = self.send_row(row)
        if row.status == CLOSED:
            self.assertEqual(responses, [], "expected no response")
            self.assertTrue(closed, "expected the connection closed")
        else:
            self.assertTrue(responses, "expected a response")
            self.assertEqual(responses[0].status, row.status)
            if row.close:
                self.assertEqual(responses[0].header("Connection"), "close")
                self.assertTrue(closed, "expected the connection closed")
                self.assertEqual(len(responses), 1, "a request after the rejected one was answered")
            elif row.follow_up:
                self.assertEqual(len(responses), 2, "the pipelined follow-up was not answered")
                self.assertEqual(responses[1].status, 200)
                self.assertEqual(responses[1].body, b"GET /follow-up")
        time.sleep(0.1)  # the origin sees anything the proxy sent before its response

        expected = list(row.forwarded)
        if row.follow_up and not row.close:
            expected.append(("a", "/follow-up", "a", b""))
        for name, origin in self.origins.items():
            bytes_before, requests_before = before[name]
            with origin.lock:
                seen = origin.requests[requests_before:]
                bytes_seen = origin.bytes_received - bytes_before
            self.assertFalse(any(r["target"].endswith("/smuggled") for r in seen), f"{name} saw a smuggled request")
            authority = f"127.0.0.1:{origin.port}"
            mine = [(target, authority if host == UPSTREAM_AUTHORITY else host, body)
                    for origin_name, target, host, body in expected if origin_name == name]
            self.assertEqual([(r["target"], r["host"], r["body"]) for r in seen], mine,
                             f"requests at origin {name}")
            if not expected and not row.head_may_reach_origin:
                self.assertEqual(bytes_seen, 0, f"{name} received bytes of a rejected request")
        for name, origin in self.origins.items():
            self.assertEqual(origin.unparsed, [], f"{name} received an unparsable request")


if __name__ == "__main__":
    unittest.main()
