"""Benchmark: time to charts, what a first visitor waits for before every chart is drawn.

    .venv/bin/python bench/time_to_charts.py [--runs N] [--plain] [--path /?sol_min=..]

Starts the web process with gunicorn and the Procfile's settings (2 workers) on a private
Redis with NASA's real files, then opens the page N times, each time in a fresh headless
Chromium (Debian chromium + chromedriver, through selenium) with an empty profile: an
empty cache. A script installed before the page's own (DevTools
``Page.addScriptToEvaluateOnNewDocument``) looks every 5 ms for the page's graphs and
notes, on the page's clock (``performance.now()``: milliseconds from the start of the
navigation), when each one first holds drawn traces (plotly.js's ``_fullData`` not empty,
its SVG present, the graph not pending) and when the last one did: the time to charts.
The page's resource timings give where the time went (the HTML, the scripts, the layout,
the callbacks). The CPU time the browser's processes spent until then is printed too: on
a machine shared with other work the times stretch, the CPU time much less.

The Procfile's own ``web`` command serves a dataset loaded by the app's loader with the
context layers (flights, samples, terrain) from the shared data folder; ``--plain`` loads
the rover's layers alone. Target: every chart within 1.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil
import redis
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import drop_keys, private_redis, procfile_processes, real_settings  # noqa: E402
from page_bytes import _driver  # noqa: E402

from dashboard.data.load import load  # noqa: E402
from dashboard.data.store import DatasetStore  # noqa: E402

TARGET_S = 1.5
POLL_MS = 5
#: installed before any of the page's scripts: notes when the graphs are drawn
WATCH_JS = """
(function () {
  const out = window.__ttc = {graphs: {}, all: null, expected: %d};
  function drawn(el) {
    const gd = el.querySelector('.js-plotly-plot');
    return !!(gd && gd._fullData && gd._fullData.length && gd.querySelector('.main-svg')
              && !el.classList.contains('dash-graph--pending'));
  }
  const timer = setInterval(function () {
    const els = document.querySelectorAll('.dash-graph');
    let done = 0;
    els.forEach(function (el) {
      if (drawn(el)) {
        if (!(el.id in out.graphs)) out.graphs[el.id] = performance.now();
        done++;
      }
    });
    if (done >= out.expected && out.all === null) { out.all = performance.now(); clearInterval(timer); }
  }, %d);
})();
"""
RESULT_JS = """
const nav = performance.getEntriesByType('navigation')[0];
return {
  ttc: window.__ttc,
  html: nav ? nav.responseEnd : null,
  dom: nav ? nav.domContentLoadedEventEnd : null,
  resources: performance.getEntriesByType('resource').map(r => ({
    name: r.name, start: r.startTime, end: r.responseEnd, bytes: r.encodedBodySize, type: r.initiatorType})),
};
"""


def count_graphs(layout: dict) -> int:
    """How many dcc.Graph components a served layout (Dash's JSON) holds that draw traces
    (without terrain the regional view is a message with none: not waited for)."""
    found = 0
    stack = [layout]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "Graph" and node.get("namespace") == "dash_core_components":
                figure = (node.get("props") or {}).get("figure") or {}
                found += bool(figure.get("data")) or not figure
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def browser_cpu(driver) -> float:
    """CPU seconds used so far by the browser's processes (all of chromedriver's children)."""
    total = 0.0
    root = psutil.Process(driver.service.process.pid)
    for proc in root.children(recursive=True):
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def visit(url: str, expected: int, timeout: float = 60) -> dict:
    """One visit in a fresh browser: the watcher's times and the resource timings (ms),
    and the CPU time the browser spent until every chart was drawn (which, unlike the
    times, barely grows when other processes compete for the cores)."""
    profile = tempfile.mkdtemp(prefix="ptracker-ttc-")
    driver = _driver(profile)
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH_JS % (expected, POLL_MS)})
        cpu0 = browser_cpu(driver)
        driver.get(url)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            result = driver.execute_script(RESULT_JS)
            if result["ttc"] and result["ttc"]["all"] is not None:
                result["browser_cpu_ms"] = (browser_cpu(driver) - cpu0) * 1000
                return result
            time.sleep(0.05)
        raise TimeoutError(f"not every chart drawn within {timeout} s: {driver.execute_script(RESULT_JS)['ttc']}")
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def phases(result: dict) -> dict[str, float]:
    """Milliseconds from the navigation's start to the end of each phase of the visit."""
    res = result["resources"]

    def last(pred) -> float:
        ends = [r["end"] for r in res if pred(r["name"])]
        return max(ends) if ends else float("nan")

    def first(pred) -> float:
        ends = [r["end"] for r in res if pred(r["name"])]
        return min(ends) if ends else float("nan")

    return {
        "html": result["html"],
        "scripts": last(lambda n: n.split("?")[0].endswith(".js")),
        "plotly.js": last(lambda n: "plotly" in n.rsplit("/", 1)[-1]),
        "layout": last(lambda n: "/_dash-layout" in n),
        "first callback": first(lambda n: "/_dash-update-component" in n),
        "charts": result["ttc"]["all"],
        "browser CPU": result["browser_cpu_ms"],
    }


def warm(base: str, path: str) -> None:
    """Every script of the page fetched a few times in each encoding, so each worker's
    one-off work (compressing plotly.js once per process) is not counted."""
    html = requests.get(base + path, headers={"Accept": "text/html"}, timeout=10).text
    scripts = [p.split('"')[0] for p in html.split('src="')[1:]]
    for _ in range(4):
        for src in scripts:
            for enc in ("br", "gzip"):
                requests.get(base + src, headers={"Accept-Encoding": enc}, timeout=30)
    requests.get(base + "/_dash-layout", headers={"Referer": base + path}, timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--plain", action="store_true", help="the rover's layers alone (the Procfile's web command)")
    parser.add_argument("--path", default="/", help="the page's path and query")
    parser.add_argument("--json", help="write every visit's timings to this file")
    args = parser.parse_args()
    with private_redis() as url:
        prefix = "ptbench-ttc:"
        client = redis.Redis.from_url(url)
        settings = real_settings(url, prefix, context=not args.plain)
        for rover in settings.rovers:  # the app's own loader, each rover (--path /?rover=curiosity)
            load(DatasetStore.of(client, settings, rover), settings.for_rover(rover), force=True)
        env = {"REDIS_URL": url, "PTRACKER_KEY_PREFIX": prefix, "WEB_CONCURRENCY": "2"}
        with procfile_processes(env) as base:
            warm(base, args.path)
            page = {"Referer": base + args.path}  # the layout is built for the rover and range the page names
            expected = count_graphs(requests.get(base + "/_dash-layout", headers=page, timeout=30).json())
            visit(base + args.path, expected)  # the browser's own first start is not counted
            load_avg = os.getloadavg()
            visits = [visit(base + args.path, expected) for _ in range(args.runs)]
        drop_keys(client, prefix)
    report(visits, expected, args, load_avg)
    if args.json:
        Path(args.json).write_text(json.dumps(visits, indent=1))


def report(visits: list[dict], expected: int, args, load_avg) -> None:
    layers = "the rover's layers alone" if args.plain else "with the context layers"
    print(f"Time to charts ({args.runs} fresh browsers, {expected} graphs, {layers}, path {args.path})")
    print(f"  load average before the runs: {' '.join(f'{x:.1f}' for x in load_avg)} ({os.cpu_count()} cores)")
    table = [phases(v) for v in visits]
    for name in table[0]:
        got = [row[name] for row in table]
        print(f"  {name:15s} median {statistics.median(got):7.0f} ms   min {min(got):7.0f}   max {max(got):7.0f}")
    ttc = statistics.median(row["charts"] for row in table) / 1000
    print(f"  time to charts: median {ttc:.2f} s (target <= {TARGET_S} s) {'OK' if ttc <= TARGET_S else 'OVER'}")


if __name__ == "__main__":
    main()
