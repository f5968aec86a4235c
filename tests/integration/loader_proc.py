"""A loader or saver process for the race tests (tests/integration/test_load_races.py).

    python -m tests.integration.loader_proc load URL PREFIX --ttl S --keep N --waypoints SRC --traverse SRC
        [--attempts N --every S] [--force]
    python -m tests.integration.loader_proc save URL PREFIX --keep N --count N --waypoints SRC --traverse SRC

Prints one JSON line when ready ({"ready": pid}), then one per attempt (load) or at the end
(save), each with the wall-clock time ``at``. ``load`` stops at its first success.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import orjson
import redis

from dashboard.data.load import LoadError, load
from dashboard.data.parse import parse_traverse, parse_waypoints
from dashboard.data.store import DatasetStore
from dashboard.settings import Settings


def say(**fields) -> None:
    sys.stdout.write(orjson.dumps({"at": time.time(), **fields}).decode() + "\n")
    sys.stdout.flush()


def attempt(store: DatasetStore, settings: Settings, force: bool) -> bool:
    try:
        summary = load(store, settings, force=force)
    except LoadError as exc:
        say(result=type(exc).__name__, message=str(exc))
        return False
    say(result=summary["status"], version=summary["version"])
    return True


def save_loop(store: DatasetStore, args: argparse.Namespace) -> None:
    wp = parse_waypoints(Path(args.waypoints).read_bytes(), args.waypoints)
    tr = parse_traverse(Path(args.traverse).read_bytes(), args.traverse)
    versions = [store.save(wp.frame, tr.frame, tr.points, {"writer": os.getpid()}).version for _ in range(args.count)]
    say(result="saved", versions=versions)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("load", "save"))
    parser.add_argument("url")
    parser.add_argument("prefix")
    parser.add_argument("--ttl", type=float, default=30.0)
    parser.add_argument("--keep", type=int, default=3)
    parser.add_argument("--waypoints", required=True)
    parser.add_argument("--traverse", required=True)
    parser.add_argument("--attempts", type=int, default=1)
    parser.add_argument("--every", type=float, default=0.2)
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    client = redis.Redis.from_url(args.url, socket_timeout=10)
    store = DatasetStore(client, args.prefix, keep_versions=args.keep, lock_ttl=args.ttl)
    settings = Settings(
        waypoints_source=args.waypoints,
        traverse_source=args.traverse,
        current_source=None,
        heli_source=None,
        samples_source=None,
        terrain_source=None,
        redis_url=args.url,
        key_prefix=args.prefix,
        keep_versions=args.keep,
        connect_timeout=2.0,
        read_timeout=60.0,
        fetch_deadline=60.0,
    )
    say(ready=os.getpid())
    if args.mode == "save":
        save_loop(store, args)
        return
    for n in range(args.attempts):
        if attempt(store, settings, args.force):
            return
        if n + 1 < args.attempts:
            time.sleep(args.every)


if __name__ == "__main__":
    main()
