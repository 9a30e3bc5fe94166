"""End to end in a real browser: headless Chromium, driven over the DevTools protocol, loads the
demo site through `veil demo`. Every third-party host the demo pages embed is mapped
(--host-resolver-rules) to its own local origin on 127.0.0.x, which counts the connections and HTTP
requests it gets (HTTPS with a throwaway certificate, or plain HTTP).

- Before consent no connection reaches any third-party origin, the banner is on the page, and a
  screenshot is kept in <build>/test-artifacts/.
- After a real click on "Reject", nothing reaches them either, and a `_ga` cookie written by
  JavaScript is gone after the next navigation (veil expires it).
- After a real click on "Accept", the embeds load: the YouTube and Google Maps iframes and the Tag
  Manager / GA scripts reach their origins."""

import base64
import contextlib
import http.server
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OPENSSL = shutil.which("openssl")
# Every third party the demo's bins page refers to, each on its own loopback address.
THIRD_PARTIES = ["www.googletagmanager.com", "www.google-analytics.com", "www.youtube.com",
                 "www.google.com", "s7.addthis.com", "platform-api.sharethis.com",
                 "www.facebook.com"]
DEADLINE = 85  # seconds for the whole test, browser start included


class ThirdPartyOrigin:
    """A local stand-in for one third-party host: answers HTTPS and plain HTTP on one port and
    records every connection and every request path."""

    def __init__(self, address, tls_context):
        self.connections = 0
        self.paths = []
        self.lock = threading.Lock()
        origin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with origin.lock:
                    origin.paths.append(self.path)
                body = b"<!DOCTYPE html><title>third party</title>"
                kind = "text/html"
                if ".js" in self.path or "/gtag/" in self.path:
                    body, kind = b"/* third party */", "text/javascript"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):
                conn, peer = self.socket.accept()
                with origin.lock:
                    origin.connections += 1
                conn.settimeout(10)
                try:
                    first = conn.recv(1, socket.MSG_PEEK)
                    if first == b"\x16":  # a TLS ClientHello
                        conn = tls_context.wrap_socket(conn, server_side=True)
                except (OSError, ssl.SSLError):
                    pass  # counted; the handler fails on the broken connection
                return conn, peer

            def handle_error(self, request, client_address):
                pass

        self.server = Server((address, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def snapshot(self):
        with self.lock:
            return self.connections, list(self.paths)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class WebSocket:
    """The client side of RFC 6455, just enough for the DevTools protocol (text frames)."""

    def __init__(self, url, timeout):
        assert url.startswith("ws://")
        host_port, _, path = url[5:].partition("/")
        host, _, port = host_port.partition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            data = self.sock.recv(4096)
            if not data:
                raise ConnectionError("DevTools closed the websocket handshake")
            head += data
        head, _, self.buffer = head.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"websocket handshake refused: {head[:80]!r}")

    def send(self, text):
        payload = text.encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        elif len(payload) < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", len(payload))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _read(self, size):
        while len(self.buffer) < size:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("DevTools closed the websocket")
            self.buffer += data
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def receive(self):
        """The next text message (fragments joined); raises socket.timeout when none comes."""
        message = b""
        while True:
            first, second = self._read(2)
            size = second & 0x7F
            if size == 126:
                size = struct.unpack("!H", self._read(2))[0]
            elif size == 127:
                size = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(size)
            opcode = first & 0x0F
            if opcode == 0x8:
                raise ConnectionError("DevTools closed the websocket")
            if opcode in (0x9, 0xA):  # ping / pong carry no protocol messages
                continue
            message += payload
            if first & 0x80:
                return message.decode()

    def close(self):
        self.sock.close()


class DevTools:
    """Commands and events of one page target."""

    def __init__(self, websocket_url, deadline):
        self.deadline = deadline
        self.ws = WebSocket(websocket_url, timeout=self.remaining())
        self.next_id = 0
        self.events = []

    def remaining(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("the browser test ran out of time")
        return left

    def _message(self):
        self.ws.sock.settimeout(min(self.remaining(), 5))
        return json.loads(self.ws.receive())

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            try:
                message = self._message()
            except socket.timeout:
                continue
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_until(self, what, check, timeout):
        """Polls `check` (exceptions while a page is loading count as not yet) until it is true."""
        end = min(time.monotonic() + timeout, self.deadline)
        while time.monotonic() < end:
            with contextlib.suppress(RuntimeError):
                if check():
                    return
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting until {what}")

    def navigate(self, url):
        self.evaluate("window.__veilOldPage = true")
        self.call("Page.navigate", url=url)
        self.wait_for_new_page(url)

    def wait_for_new_page(self, what):
        self.wait_until(f"{what} has loaded", lambda: self.evaluate(
            "!window.__veilOldPage && document.readyState === 'complete'"), timeout=40)

    def click(self, selector):
        """A real mouse click (press and release) at the middle of the element."""
        x, y = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        self.evaluate("window.__veilOldPage = true")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left",
                      clickCount=0 if kind == "mouseMoved" else 1)
        self.wait_for_new_page(f"the page after clicking {selector}")

    def cookie_names(self):
        return sorted(c["name"] for c in self.call("Network.getAllCookies")["cookies"])

    def close(self):
        self.ws.close()


def make_certificate(directory):
    key, cert = os.path.join(directory, "key.pem"), os.path.join(directory, "cert.pem")
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=third-party.test", "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@contextlib.contextmanager
def chromium(profile, rules, deadline):
    """Headless Chromium with a DevTools port; yields a DevTools session on its first page."""
    log = open(os.path.join(profile, "chromium.log"), "wb")
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update",
            "--disable-default-apps", "--disable-sync", "--mute-audio",
            "--ignore-certificate-errors", "--remote-debugging-port=0",
            "--remote-debugging-address=127.0.0.1", f"--user-data-dir={profile}/chromium",
            f"--host-resolver-rules={rules}", "--window-size=1024,900", "about:blank"]
    with log, harness.running(args, stdout=log, stderr=log) as browser:
        port_file = os.path.join(profile, "chromium", "DevToolsActivePort")
        while not os.path.exists(port_file) or os.path.getsize(port_file) == 0:
            if browser.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("Chromium did not open its DevTools port")
            time.sleep(0.1)
        time.sleep(0.1)
        with open(port_file) as f:
            port = int(f.readline())
        pages = []
        while not pages:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            if time.monotonic() > deadline:
                raise AssertionError("Chromium has no page target")
            time.sleep(0.1)
        devtools = DevTools(pages[0]["webSocketDebuggerUrl"], deadline)
        try:
            devtools.call("Page.enable")
            devtools.call("Network.enable")
            yield devtools
        finally:
            with contextlib.suppress(Exception):
                devtools.call("Browser.close")
            devtools.close()


@unittest.skipUnless(os.path.exists(CHROMIUM) and OPENSSL, "chromium or openssl is missing")
class BrowserConsentTest(unittest.TestCase):
    def test_embeds_wait_for_consent_in_a_real_browser(self):
        deadline = time.monotonic() + DEADLINE
        with harness.temp_dir() as tmp:
            tls = make_certificate(tmp)
            origins = {}
            for i, host in enumerate(THIRD_PARTIES):
                origins[host] = ThirdPartyOrigin(f"127.0.0.{2 + i}", tls)
                self.addCleanup(origins[host].close)
            rules = ", ".join(f"MAP {host} 127.0.0.{2 + i}:{origins[host].port}"
                              for i, host in enumerate(THIRD_PARTIES))

            def contacted():
                return {host: o.snapshot() for host, o in origins.items() if o.snapshot()[0]}

            proxy_port, origin_port = harness.free_port(), harness.free_port()
            with harness.running(
                    [harness.VEIL_BIN, "demo", "--listen", f"127.0.0.1:{proxy_port}",
                     "--origin", f"127.0.0.1:{origin_port}"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as demo, \
                    chromium(tmp, rules, deadline) as page:
                harness.wait_for_port(proxy_port, process=demo, timeout=30)
                site = f"http://127.0.0.1:{proxy_port}"
                bins = f"{site}/bins-and-recycling.html"

                # 1. Before any decision.
                page.navigate(bins)
                time.sleep(1.0)  # async scripts and lazy iframes would have started by now
                self.assertTrue(page.evaluate(
                    "!!document.querySelector('.veil-cookie-banner[role=region]"
                    " form[method=post] button[value=accept]')"), "no consent banner")
                self.assertEqual(page.evaluate(
                    "document.querySelectorAll('script[data-veil-category=usage]').length"), 3)
                self.assertEqual(page.evaluate("document.querySelectorAll('iframe').length"), 0)
                screenshot = page.call("Page.captureScreenshot", format="png")["data"]
                artifact = os.path.join(harness.BUILD_DIR, "test-artifacts", "consent-banner.png")
                os.makedirs(os.path.dirname(artifact), exist_ok=True)
                with open(artifact, "wb") as f:
                    f.write(base64.b64decode(screenshot))
                self.assertEqual(contacted(), {}, "a third party was contacted before consent")

                # 2. Reject: still nothing, and the script-written _ga goes at the next page.
                page.click(".veil-cookie-banner button[value=reject]")
                page.evaluate("document.cookie = '_ga=GA1.1.12345.67890; max-age=63072000;"
                              " path=/'")
                self.assertIn("_ga", page.cookie_names())
                page.navigate(f"{site}/cookies")  # a page without the demo's analytics.js
                self.assertNotIn("_ga", page.cookie_names(), "_ga survived the rejection")
                self.assertNotIn("_ga_V31LD3M042", page.cookie_names())
                page.navigate(bins)
                time.sleep(1.0)
                self.assertEqual(page.evaluate("document.querySelectorAll('iframe').length"), 0)
                self.assertEqual(contacted(), {}, "a third party was contacted after Reject")

                # 3. A new visitor accepts: the embeds load from their origins.
                page.call("Network.clearBrowserCookies")
                page.navigate(bins)
                page.click(".veil-cookie-banner button[value=accept]")
                wanted = {"www.youtube.com": "/embed/M7lc1UVf-VE",
                          "www.google.com": "/maps/embed",
                          "www.googletagmanager.com": "/gtag/js"}

                def all_loaded():
                    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")  # lazy maps
                    for host, path in wanted.items():
                        if not any(p.startswith(path) for p in origins[host].snapshot()[1]):
                            return False
                    return True
                page.wait_until("the embeds reached their origins", all_loaded, timeout=30)
                self.assertEqual(page.evaluate("document.querySelectorAll('iframe').length"), 2)
                self.assertEqual(page.evaluate(
                    "document.querySelectorAll('[data-veil-category]').length"), 0)
                self.assertTrue(any(p.startswith("/gtm.js") for p in
                                    origins["www.googletagmanager.com"].snapshot()[1]),
                                "the Tag Manager snippet did not run")


if __name__ == "__main__":
    unittest.main()
