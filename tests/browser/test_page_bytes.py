"""What a browser downloads for the page: compressed on the first visit, cached on the next."""

from __future__ import annotations

import sys

from dashboard.data.load import load
from tests.helpers import ROOT, free_port, procfile_env, start_procfile, stop, wait_http

sys.path.insert(0, str(ROOT / "bench"))

from page_bytes import COLD_LIMIT, WARM_LIMIT, measure  # noqa: E402


def test_first_load_is_under_2_mb_and_a_second_load_under_100_kb(redis_url, key_prefix, store, data_settings):
    load(store, data_settings)  # NASA's real files when present
    port = free_port()
    env = procfile_env(redis_url, key_prefix, port)
    web = start_procfile("web", env)
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", web)
        result = measure(f"http://127.0.0.1:{port}/")
    finally:
        stop(web)
    cold, warm = result["cold_requests"], result["warm_requests"]
    big_scripts = [r for r in cold if r["url"].endswith(".js") and r.get("bytes", 0) > 20_000]
    assert big_scripts and all(r.get("encoding") in ("br", "gzip") for r in big_scripts), big_scripts
    assert 0 < result["cold"] <= COLD_LIMIT, sorted(cold, key=lambda r: -r.get("bytes", 0))[:5]
    assert result["warm"] < WARM_LIMIT, sorted(warm, key=lambda r: -r.get("bytes", 0))[:5]
    assert result["console_errors"] == []
