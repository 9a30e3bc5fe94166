"""End to end in a real browser: headless Chromium loads the demo site through `veil demo`, with
the third-party hosts the demo pages embed mapped to a local listener that counts connections.
Before consent no connection reaches it and the banner is on the page; a screenshot is kept."""

import os
import shutil
import socket
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
THIRD_PARTIES = ["www.googletagmanager.com", "s7.addthis.com", "platform-api.sharethis.com",
                 "www.youtube.com", "www.google-analytics.com"]


class ConnectionCounter:
    """Accepts and counts TCP connections (HTTP or TLS alike) on a local port."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.count += 1
            conn.close()

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


@unittest.skipUnless(os.path.exists(CHROMIUM), "chromium is not installed")
class BrowserConsentTest(unittest.TestCase):
    def test_no_third_party_before_consent_and_banner_shown(self):
        counter = ConnectionCounter()
        self.addCleanup(counter.close)
        proxy_port, origin_port = harness.free_port(), harness.free_port()
        with harness.temp_dir() as tmp, harness.running(
                [harness.VEIL_BIN, "demo", "--listen", f"127.0.0.1:{proxy_port}",
                 "--origin", f"127.0.0.1:{origin_port}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as demo:
            harness.wait_for_port(proxy_port, process=demo, timeout=30)
            rules = ", ".join(f"MAP {host} 127.0.0.1:{counter.port}" for host in THIRD_PARTIES)
            screenshot = os.path.join(harness.BUILD_DIR, "test-artifacts", "consent-banner.png")
            os.makedirs(os.path.dirname(screenshot), exist_ok=True)
            base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--no-first-run", f"--user-data-dir={tmp}",
                    f"--host-resolver-rules={rules}", "--virtual-time-budget=5000"]
            url = f"http://127.0.0.1:{proxy_port}/bins-and-recycling.html"
            dom = subprocess.run(base + ["--dump-dom", url], capture_output=True, timeout=120,
                                 check=True).stdout.decode()
            subprocess.run(base + [f"--screenshot={screenshot}", "--window-size=1024,900", url],
                           capture_output=True, timeout=120)
            before_consent = counter.count
            # The mapping works: a direct visit to a third-party host reaches the counter.
            subprocess.run(base + ["--dump-dom", "http://www.googletagmanager.com/"],
                           capture_output=True, timeout=120)
        self.assertIn('class="veil-cookie-banner"', dom)
        self.assertIn('role="region"', dom)
        self.assertIn('data-veil-category="usage"', dom)
        self.assertEqual(before_consent, 0, "a third-party origin was contacted before consent")
        self.assertGreater(counter.count, 0, "the host mapping did not reach the counter")
        self.assertTrue(os.path.exists(screenshot))


if __name__ == "__main__":
    unittest.main()
