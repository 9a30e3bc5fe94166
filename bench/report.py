#!/usr/bin/env python3
"""One table from the raw results the bench programs leave in bench/data/ (run by scripts/bench).

Each row: what was measured, veil's figure, the reference it is compared with (nginx, cat, sed) when
there is one, the target from the issues, and whether this run met it. Figures are medians over the
rounds. A target that compares two figures is judged by the median of their ratios round by round:
the two were measured minutes apart at most, while the machine's speed drifts from round to round.

    bench/report.py DATA_DIR ANONYMISE_LINES   (prints Markdown)
"""
import csv
import os
import re
import statistics
import sys

from rounds import median_of, ratios_by_round

data, anonymise_lines = sys.argv[1], int(sys.argv[2])
rows = []  # (area, measure, veil, reference, target, met)


def row(area, measure, veil, reference="", target="", met=None):
    verdict = "" if met is None else ("met" if met else "**not met**")
    cells = (area, measure, veil, reference, target, verdict)
    rows.append(tuple(cell.replace("|", "\\|") for cell in cells))


def by_round(ratios):
    """The ratios of one comparison, round by round, and their median."""
    return (f"ratio {statistics.median(ratios):.2f} (rounds " +
            ", ".join(f"{ratio:.2f}" for ratio in ratios) + ")")


def tsv(name):
    path = os.path.join(data, name)
    with open(path, newline="") as f:
        return list(csv.reader(f, delimiter="\t"))


# Anonymiser: bench/anonymise leaves "label, threads, median seconds" per command.
size = os.path.getsize(os.path.join(data, f"access-{anonymise_lines}.log"))
mb_per_s = {}
for label, threads, seconds in tsv("results.tsv"):
    mb_per_s[(label, threads)] = size / float(seconds) / 1e6
ceiling = mb_per_s[("cat FILE | cat (pipe ceiling)", "-")]
sed = mb_per_s[("LC_ALL=C sed -E (last IPv4 octet)", "-")]
row("anonymise", "cat FILE | cat (pipe ceiling)", f"{ceiling:.0f} MB/s")
row("anonymise", "LC_ALL=C sed -E, last IPv4 octet", f"{sed:.0f} MB/s")
for (label, threads), rate in mb_per_s.items():
    if not label.startswith("veil "):
        continue
    measure = f"{label.removeprefix('veil ')}, {threads} thread{'s' if threads != '1' else ''}"
    if label == "veil truncate + PII scrubbing" and threads == "1":
        row("anonymise", measure, f"{rate:.0f} MB/s", f"sed {sed:.0f}", ">= 500 MB/s", rate >= 500)
    elif label == "veil truncate + PII scrubbing":
        ratios = [float(line) for line in open(os.path.join(data, "anonymise-ratios.txt"))]
        row("anonymise", measure, f"{rate:.0f} MB/s",
            f"cat {ceiling:.0f}; {by_round(ratios)}", ">= 60% of pipe",
            statistics.median(ratios) >= 0.6)
    elif threads == "1":
        row("anonymise", measure, f"{rate:.0f} MB/s", "", ">= 300 MB/s", rate >= 300)
    else:
        row("anonymise", measure, f"{rate:.0f} MB/s")

# Proxy: bench/proxy leaves one row per wrk run; medians over the rounds.
proxy_rows = list(csv.DictReader(open(os.path.join(data, "proxy-results.tsv")), delimiter="\t"))


def proxy_median(proxy, scenario, column):
    return median_of(proxy_rows, (proxy, scenario), column)


for scenario in ("pass-through html-10k c64", "pass-through bin-10k c64",
                 "pass-through bin-100k c64", "pass-through bin-100k c1000"):
    veil, nginx = ("veil", scenario), ("nginx", scenario)
    if proxy_median(*veil, "req_per_s") is None or proxy_median(*nginx, "req_per_s") is None:
        continue
    for column, measure, unit, target, met in (
            ("req_per_s", "req/s", "", ">= nginx", lambda ratio: ratio >= 1),
            ("cpu_us_per_req", "CPU per request", " us", "<= nginx", lambda ratio: ratio <= 1),
            ("p99_ms", "p99 latency", " ms", "<= 1.2 x nginx", lambda ratio: ratio <= 1.2)):
        ratios = ratios_by_round(proxy_rows, veil, nginx, column)
        digits = 0 if column == "req_per_s" else 2 if column == "p99_ms" else 1
        row("proxy", f"{scenario}: {measure}", f"{proxy_median(*veil, column):.{digits}f}{unit}",
            f"nginx {proxy_median(*nginx, column):.{digits}f}{unit}; {by_round(ratios)}", target,
            met(statistics.median(ratios)))
    veil_rss, nginx_rss = proxy_median(*veil, "rss_kib") / 1024, proxy_median(*nginx, "rss_kib") / 1024
    if scenario.endswith("c1000"):
        row("proxy", f"{scenario}: RSS", f"{veil_rss:.1f} MiB", f"nginx {nginx_rss:.1f} MiB",
            "<= 64 MiB", veil_rss <= 64)
    else:
        row("proxy", f"{scenario}: RSS", f"{veil_rss:.1f} MiB", f"nginx {nginx_rss:.1f} MiB")

for case, content, allowed in (("cookies", "10k c64", 0.10), ("html-rewrite", "bins-100k c64", 0.25)):
    on, off = ("veil", f"{case}-on {content}"), ("veil", f"{case}-off {content}")
    if proxy_median(*on, "req_per_s") is None or proxy_median(*off, "req_per_s") is None:
        continue
    ratios = ratios_by_round(proxy_rows, on, off, "req_per_s")
    nginx_rate = proxy_median("nginx", f"{case}-off {content}", "req_per_s")
    reference = (f"off {proxy_median(*off, 'req_per_s'):.0f} "
                 f"({proxy_median(*off, 'cpu_us_per_req'):.1f} us/req)" +
                 (f", nginx {nginx_rate:.0f}" if nginx_rate else "") + f"; on/off {by_round(ratios)}")
    row("proxy", f"{case} {content}: req/s with the filter on "
        f"({proxy_median(*on, 'cpu_us_per_req'):.1f} us/req)",
        f"{proxy_median(*on, 'req_per_s'):.0f}", reference, f"costs <= {allowed:.0%} of req/s",
        statistics.median(ratios) >= 1 - allowed)

# Slowloris: bench/slowloris leaves "metric, value" rows.
if os.path.exists(os.path.join(data, "slowloris.tsv")):
    slow = dict(tsv("slowloris.tsv")[1:])
    ratio = float(slow["ratio"])
    row("proxy", f"normal req/s with {slow['slow_connections']} slowloris connections "
        f"({slow['slow_closed_by_header_timeout']} closed by the header timeout)",
        f"{float(slow['loaded_req_per_s']):.0f}", f"unloaded {float(slow['unloaded_req_per_s']):.0f}",
        ">= 90% of unloaded", ratio >= 0.9)

# Cookie filter alone: bench_cookie_filter's "case, audit, ns per exchange, heads ns" rows.
if os.path.exists(os.path.join(data, "cookie_filter.txt")):
    for case, audit, filter_ns, _ in tsv("cookie_filter.txt")[1:]:
        row("cookies", f"CookiePolicy filter alone, visitor {case}, audit {audit}",
            f"{float(filter_ns) / 1000:.1f} us/exchange")

# HTML tokenizer: bench_html_tokenizer's summary line.
tokenizer = open(os.path.join(data, "html_tokenizer.txt")).read()
slowest = re.search(r"slowest rewrite: ([\d.]+) MB/s", tokenizer)
if slowest:
    rate = float(slowest.group(1))
    row("html", "tokenizer + rewriter alone, slowest page size, 1 thread", f"{rate:.0f} MB/s", "",
        ">= 500 MB/s", rate >= 500)

print("| Area | Measure | veil | Reference | Target | Result |")
print("|---|---|--:|--:|---|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
missed = sum(1 for r in rows if r[5] == "**not met**")
targets = sum(1 for r in rows if r[5])
print(f"\n{targets - missed} of {targets} targets met.")
