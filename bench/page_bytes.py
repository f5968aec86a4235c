"""Bytes a real browser transfers for the dashboard page: cold cache, then a second load.

    .venv/bin/python bench/page_bytes.py [--plain] [-v]      (make bench runs it)

Starts the Procfile's web command (gunicorn, 2 workers) on a private Redis with NASA's
real files, their versions carrying the context layers (Ingenuity's flights, the sample
tubes, the terrain and its relief image, loaded by the app's own loader; ``--plain``: the rover's
layers alone), opens the page in headless Chromium (Debian chromium + chromedriver, through
selenium) with a fresh profile, waits until every chart has been drawn, and adds up the
bytes on the wire from Chrome's DevTools Network events (``Network.loadingFinished``'s
``encodedDataLength``: headers + compressed body; answers served from the browser's
cache count 0). Then it loads the same page again in the same browser (a new navigation,
not a forced reload) and counts again. Targets: cold <= 2 MB, warm < 100 KB.

:func:`measure` is also used by tests/browser/test_page_bytes.py.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

COLD_LIMIT = 2_000_000
WARM_LIMIT = 100_000


def _driver(profile: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
    ):
        opts.add_argument(arg)
    if os.path.exists("/usr/bin/chromium"):
        opts.binary_location = "/usr/bin/chromium"
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(service=service, options=opts)


def _transfers(driver) -> list[dict]:
    """One entry per finished request: url, method, status, bytes on the wire, cached."""
    reqs: dict[str, dict] = {}
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        method, params = msg.get("method"), msg.get("params", {})
        rid = params.get("requestId")
        if method == "Network.requestWillBeSent":
            reqs.setdefault(rid, {})["url"] = params["request"]["url"]
            reqs[rid]["method"] = params["request"]["method"]
        elif method == "Network.responseReceived":
            r = reqs.setdefault(rid, {})
            resp = params["response"]
            r["status"] = resp.get("status")
            r["cached"] = bool(
                resp.get("fromDiskCache") or resp.get("fromPrefetchCache") or resp.get("fromServiceWorker")
            )
            headers = {k.lower(): v for k, v in (resp.get("headers") or {}).items()}
            r["encoding"] = headers.get("content-encoding", "")
        elif method == "Network.requestServedFromCache":
            reqs.setdefault(rid, {})["cached"] = True
        elif method == "Network.loadingFinished":
            reqs.setdefault(rid, {})["bytes"] = int(params.get("encodedDataLength", 0))
    # only what went over HTTP (not data: URLs, not chrome:// resources of the browser itself)
    return [r for r in reqs.values() if r.get("url", "").startswith(("http://", "https://"))]


def _load(driver, url: str, charts: int, timeout: float = 60) -> list[dict]:
    driver.get_log("performance")  # drop what came before
    driver.get(url)
    end = time.monotonic() + timeout
    while time.monotonic() < end:  # every chart drawn (plotly adds .main-svg) and no request pending
        drawn = driver.execute_script("return document.querySelectorAll('.js-plotly-plot .main-svg').length")
        busy = driver.execute_script("return document.querySelectorAll('[data-dash-is-loading=\"true\"]').length")
        if drawn >= charts and not busy:
            break
        time.sleep(0.2)
    time.sleep(1.0)  # late callbacks (status line, interval polls)
    return _transfers(driver)


def measure(url: str, charts: int = 6) -> dict:
    """{"cold": bytes, "warm": bytes, "cold_requests": [...], "warm_requests": [...]}"""
    profile = tempfile.mkdtemp(prefix="ptracker-chrome-")
    driver = _driver(profile)
    try:
        cold = _load(driver, url, charts)
        warm = _load(driver, url, charts)
        console = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return {
        "cold": sum(r.get("bytes", 0) for r in cold),
        "warm": sum(r.get("bytes", 0) for r in warm),
        "cold_requests": cold,
        "warm_requests": warm,
        "console_errors": console,
    }


def report(result: dict, verbose: bool = False) -> None:
    print(
        f"  page, cold cache:  {result['cold']:>10,} B on the wire in {len(result['cold_requests'])} requests"
        f"   (target <= {COLD_LIMIT:,})"
    )
    print(
        f"  page, second load: {result['warm']:>10,} B on the wire in {len(result['warm_requests'])} requests"
        f"   (target < {WARM_LIMIT:,})"
    )
    if verbose:
        for label in ("cold_requests", "warm_requests"):
            print(f"  {label}:")
            for r in sorted(result[label], key=lambda r: -r.get("bytes", 0))[:12]:
                print(
                    f"    {r.get('bytes', 0):>9,} B  {r.get('status')} {r.get('method')} {r.get('encoding') or '-':4s}"
                    f" {'cache' if r.get('cached') else '     '} {r['url'][-90:]}"
                )


def main() -> None:
    import argparse

    import redis
    from common import drop_keys, private_redis, procfile_processes, real_settings

    from dashboard.data.load import load
    from dashboard.data.store import DatasetStore

    parser = argparse.ArgumentParser()
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--plain", action="store_true", help="the rover's layers alone (the Procfile's web command)")
    parser.add_argument("--rover", choices=("perseverance", "curiosity"), default="perseverance")
    args = parser.parse_args()
    with private_redis() as url:
        prefix = "ptbench-page:"
        client = redis.Redis.from_url(url)
        settings = real_settings(url, prefix, context=not args.plain)
        for rover in settings.rovers:  # the app's own loader, each rover
            load(DatasetStore.of(client, settings, rover), settings.for_rover(rover), force=True)
        env = {"REDIS_URL": url, "PTRACKER_KEY_PREFIX": prefix, "WEB_CONCURRENCY": "2"}
        with procfile_processes(env) as base:
            layers = "the rover's layers alone" if args.plain else "with the context layers"
            print(
                f"Page transfer, {args.rover} (headless Chromium, DevTools Network events, gunicorn 2 workers, "
                f"real data, {layers})"
            )
            path = "/" if args.rover == "perseverance" else f"/?rover={args.rover}"
            # Curiosity's terrain is not loaded (no regional view drawn): its six charts
            charts = 6 if args.plain or args.rover != "perseverance" else 7
            report(measure(base + path, charts=charts), args.verbose)
        drop_keys(client, prefix)


if __name__ == "__main__":
    main()
