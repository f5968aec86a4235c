"""Benchmark: the slider callbacks (all charts; the regional view and the card of Mars
around the rover) on the real data and on 100x that data.

    make bench      (or: .venv/bin/python bench/bench_dashboard.py [--repeat N])

Two measurements:
1. in-process, real and synthetic 100x data: each callback's work (every figure builder
   plus the summary; the regional view plus the card) and Dash's JSON encoding of the
   answer; prints time and size;
2. end to end on the real data: POST /_dash-update-component to the real app (Flask test
   client, private redis-server) for each, i.e. what the server spends per slider move
   (the two requests run side by side in the browser).

The datasets carry NASA's context layers (Ingenuity's flights, the sample tubes, the
terrain) from the shared data folder, loaded by the app's own loader.

Targets: real data < 50 ms and < 1 MB; 100x data < 250 ms and < 3 MB.
The 100x dataset repeats the real one 100 times, each copy shifted by the mission's sol
span (sols, site numbers and odometry continue), traverse included (3.4 M vertices).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import pandas as pd
import redis
from plotly.io.json import to_json_plotly

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import drop_keys, private_redis, real_settings  # noqa: E402

from dashboard.app import create_app  # noqa: E402
from dashboard.data.load import load  # noqa: E402
from dashboard.data.store import Dataset, DatasetStore  # noqa: E402
from dashboard.figures import BUILDERS  # noqa: E402
from dashboard.page import ids  # noqa: E402
from dashboard.page.callbacks.charts import chart_figures  # noqa: E402
from dashboard.page.callbacks.mars import around  # noqa: E402
from dashboard.page.pieces import now_children, summary_children  # noqa: E402
from dashboard.page.ranges import sol_bounds  # noqa: E402


def scaled(ds: Dataset, copies: int) -> Dataset:
    wp, legs, pts = ds.waypoints, ds.traverse, ds.traverse_points
    span = int(max(wp["sol"].max(), legs["sol"].max())) + 1
    odo = float(wp["dist_total_m"].max())
    wps, legss, ptss = [], [], []
    for k in range(copies):
        wps.append(
            wp.assign(
                sol=wp["sol"] + k * span,
                site=wp["site"] + k * 100,
                dist_total_m=wp["dist_total_m"] + k * odo,
                rmc=(wp["site"] + k * 100).astype(str) + "_" + wp["drive"].astype(str),
            )
        )
        legss.append(legs.assign(seg=legs["seg"] + k * len(legs), sol=legs["sol"] + k * span))
        ptss.append(pts.assign(seg=pts["seg"] + k * len(legs)))
    # the copies' current positions are ordinary waypoints; the last copy's stays the current one
    merged = pd.concat(wps, ignore_index=True)
    merged["layer"] = merged["layer"].where(merged.index >= len(merged) - len(wp), "waypoints")
    return Dataset(
        version="x100",
        meta=ds.meta,
        waypoints=merged,
        traverse=pd.concat(legss, ignore_index=True),
        traverse_points=pd.concat(ptss, ignore_index=True),
        current=merged[merged["layer"] == "current"],
        flights=ds.flights,
        samples=ds.samples,
        terrain=ds.terrain,
    )


def callback_work(ds: Dataset, lo: int, hi: int) -> int:
    figs = chart_figures(ds, lo, hi)
    out = [figs[name] for name in BUILDERS] + [summary_children(ds, None), now_children(ds)]
    return len(to_json_plotly(out))


def around_work(ds: Dataset, lo: int, hi: int) -> int:
    return len(to_json_plotly(list(around(ds, [lo, hi]))))


def timed(fn, repeat):
    fn()  # warm-up
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), max(times), result


def http_callback(app, payload) -> tuple[int, int]:
    client = app.server.test_client()
    resp = client.post("/_dash-update-component", json=payload)
    assert resp.status_code == 200, resp.status_code
    return resp.status_code, len(resp.data)


def chart_payload(app, lo, hi, output: str = f"{ids.GRAPHS['orientation']}.figure", rover="perseverance") -> dict:
    """The request the page sends when the slider moves (the callback writing ``output``)."""
    deps = app.server.test_client().get("/_dash-dependencies").get_json()
    cb = next(d for d in deps if output in d["output"])
    outputs = []
    for part in cb["output"].strip(".").split("..."):
        cid, prop = part.rsplit(".", 1)
        outputs.append({"id": cid, "property": prop})
    values = {
        ids.SOL_RANGE: [lo, hi],
        ids.SELECTION: None,
        ids.DATA_VERSION: None,
        ids.TIME_AXIS: "sol",
        ids.ROVER: rover,
        ids.SERVED: None,
    }
    inputs = [{"id": i["id"], "property": i["property"], "value": values[i["id"]]} for i in cb["inputs"]]
    state = [{"id": i["id"], "property": i["property"], "value": values[i["id"]]} for i in cb.get("state", [])]
    return {
        "output": cb["output"],
        "outputs": outputs,
        "inputs": inputs,
        "changedPropIds": [f"{ids.SOL_RANGE}.value"],
        "state": state,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--rover", choices=("perseverance", "curiosity"), default="perseverance")
    args = parser.parse_args()
    with private_redis() as url:
        prefix = "ptbench-dash:"
        client = redis.Redis.from_url(url)
        settings = real_settings(url, prefix)
        store = DatasetStore.of(client, settings, args.rover)
        load(store, settings.for_rover(args.rover), force=True)  # the real loader: the rover's and context layers
        real = store.current()
        assert real is not None
        try:
            measure(real, create_app(settings, DatasetStore.of(client, settings)), args.repeat)
        finally:
            drop_keys(client, prefix)


def measure(real: Dataset, app, repeat: int) -> None:
    big = scaled(real, 100)
    print(f"Slider callback benchmark, {real.rover} ({repeat} repeats; median / worst)")
    print(
        f"  real: {len(real.waypoints):,} waypoints, {len(real.traverse_points):,} path vertices; "
        f"100x: {len(big.waypoints):,} waypoints, {len(big.traverse_points):,} path vertices"
    )
    rows = []
    for label, ds in (("real", real), ("100x", big)):
        lo, hi = sol_bounds(ds)  # the whole timeline: every layer's sols
        mid = (lo + (hi - lo) // 4, lo + 3 * (hi - lo) // 4)
        for rng_label, (a, b) in (("all sols", (lo, hi)), ("middle half", mid)):
            for what, work in (("charts", callback_work), ("around", around_work)):
                med, worst, size = timed(lambda ds=ds, a=a, b=b, work=work: work(ds, a, b), repeat)
                rows.append((f"{what} {label}, {rng_label} ({a}..{b})", med, worst, size))
    for label, med, worst, size in rows:
        print(f"  in-process  {label:45s} {med * 1000:8.1f} ms {worst * 1000:8.1f} ms  {size / 1e6:6.3f} MB JSON")

    lo, hi = sol_bounds(real)
    for a, b in ((lo, hi), (lo + (hi - lo) // 4, lo + 3 * (hi - lo) // 4)):
        for what, output in (
            ("charts", f"{ids.GRAPHS['orientation']}.figure"),
            ("around", f"{ids.REGIONAL}.figure"),
        ):
            payload = chart_payload(app, a, b, output, real.rover)
            med, worst, (_, size) = timed(lambda payload=payload: http_callback(app, payload), repeat)
            print(
                f"  HTTP        {what} real, POST /_dash-update-component ({a}..{b})"
                f"{'':3s}{med * 1000:8.1f} ms {worst * 1000:8.1f} ms  {size / 1e6:6.3f} MB response"
            )
    print("  targets: real < 50 ms and < 1 MB; 100x < 250 ms and < 3 MB")


if __name__ == "__main__":
    main()
