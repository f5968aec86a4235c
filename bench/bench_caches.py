"""Benchmark: what each of the app's in-process caches saves, on NASA's real files.

    make bench      (or: .venv/bin/python bench/bench_caches.py)

A cache is kept only where this shows it pays; its comment in the code quotes the figure.
Prints, for each: the cost without it (building the value) and with it (a hit), medians of
a few rounds. Starts a private redis-server unless REDIS_URL is set. Asserts nothing.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import brotli
import orjson
import plotly
import redis
from common import private_redis, real_context, real_current, real_sources

from dashboard.api import serialize
from dashboard.api.schemas import RangeQuery
from dashboard.data.load import load
from dashboard.data.store import DatasetStore
from dashboard.figures import Frames, View, build
from dashboard.settings import Settings

ROUNDS = 5


def median_ms(fn, rounds: int = ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def row(what: str, without: float, with_: float) -> None:
    print(f"  {what:52s} {without:10.2f} ms {with_:10.3f} ms {without / max(with_, 1e-6):9.0f}x")


def main() -> None:
    wp, tr = real_sources()
    with private_redis() as url:
        client = redis.Redis.from_url(url)
        settings = Settings(
            waypoints_source=wp, traverse_source=tr, current_source=real_current(), **real_context(), key_prefix="bc:"
        )
        store = DatasetStore(client, "bc:")
        load(store, settings.replace(max_bytes=20 << 20))
        version = store.current_version()
        assert version is not None
        print("In-process caches: cost without (build) and with (hit), median of", ROUNDS)
        print(f"  {'cache':52s} {'without':>13s} {'with':>13s} {'saves':>10s}")
        fresh = DatasetStore(client, "bc:")  # reads a version without the cache
        row(
            "dataset version decoded (DatasetStore.current)",
            median_ms(lambda: fresh.read(version)),
            median_ms(store.current),
        )
        dataset = store.current()
        query = RangeQuery()
        features = lambda: serialize.features(serialize.filtered(dataset, query))  # noqa: E731
        dataset.answer(("bench", "features"), lambda: b"")
        row(
            "/perseverance answer (Dataset.answer)",
            median_ms(lambda: orjson.dumps(features())),
            median_ms(lambda: dataset.answer(("bench", "features"), lambda: b"")),
        )
        lo, hi = int(dataset.waypoints["sol"].min()), int(dataset.waypoints["sol"].max())
        view = View.of(lo, hi)
        build("map", dataset, view)  # the path levels now live in the version's memo
        frames = (dataset.waypoints, dataset.traverse, dataset.traverse_points)
        row(
            "map figure, path levels built vs kept (Dataset.memo)",
            median_ms(lambda: build("map", Frames(*frames), view), 3),
            median_ms(lambda: build("map", dataset, view)),
        )
        bundle = next(Path(plotly.__file__).parent.glob("package_data/plotly.min.js")).read_bytes()
        cached = {"key": brotli.compress(bundle, quality=5)}
        row(
            f"plotly.min.js brotli 5, {len(bundle) / 1e6:.1f} MB (compressed-answer cache)",
            median_ms(lambda: brotli.compress(bundle, quality=5), 3),
            median_ms(lambda: cached["key"]),
        )
        client.close()


if __name__ == "__main__":
    main()
