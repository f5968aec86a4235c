"""Load-run users for bench/bench_load_run.py: page loads, slider callbacks, data routes
and exports, mixed. A 429 from the export rate limit is the intended answer, not an error."""

from __future__ import annotations

import json
import random

from dash_bodies import initial_values, slider_body  # bench/, beside this file
from locust import HttpUser, between, task

SOLS = (13, 1110)


class Visitor(HttpUser):
    wait_time = between(0.2, 1.0)

    def on_start(self):
        deps = self.client.get("/_dash-dependencies", name="GET /_dash-dependencies").json()
        layout = self.client.get("/_dash-layout", name="GET /_dash-layout").json()
        self.charts_cb = next(d for d in deps if "orientation-chart.figure" in d["output"])
        self.initial = initial_values(layout)

    def _range(self):
        a = random.randint(SOLS[0], SOLS[1] - 50)
        return a, random.randint(a + 10, SOLS[1])

    @task(1)
    def page(self):
        self.client.get("/", headers={"Accept": "text/html"}, name="GET / (page)")
        self.client.get("/_dash-layout", name="GET /_dash-layout")

    @task(4)
    def slider(self):
        a, b = self._range()
        self.client.post(
            "/_dash-update-component",
            data=json.dumps(slider_body(self.charts_cb, self.initial, [a, b])),
            headers={"Content-Type": "application/json"},
            name="POST slider callback (all charts)",
        )

    @task(4)
    def data(self):
        a, b = self._range()
        route = random.choice(["/perseverance/position", "/perseverance/orientation"])
        self.client.get(f"{route}?sol_min={a}&sol_max={b}", name=f"GET {route}?range")
        if random.random() < 0.3:
            self.client.get("/perseverance", name="GET /perseverance")

    @task(1)
    def export(self):
        a, b = self._range()
        chart = random.choice(["yaw", "pitch", "roll"])
        with self.client.post(
            f"/perseverance/orientation/{chart}", json={"start": a, "end": b}, name="POST export", catch_response=True
        ) as resp:
            if resp.status_code in (202, 429):
                resp.success()
            else:
                resp.failure(f"{resp.status_code}: {resp.text[:120]}")
