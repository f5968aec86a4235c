"""Command line: ``python -m dashboard load|info``.

``load`` fetches NASA's layers (the optional ones too: current position, Ingenuity's
flights, sample tubes, terrain) into the Redis at ``REDIS_URL`` (the embedded one when
unset) and prints a one-line summary, or JSON with ``--json``: for ``--rover``'s, or each
rover served in turn (each line then starts with its name). ``info`` prints the current
dataset's summary without loading. On failure: exit status 1 and one line on stderr
saying why (after the other rovers were tried).
"""

from __future__ import annotations

import argparse
import sys

import orjson
import redis

from dashboard.data.load import LoadError, load, one_line, summarize
from dashboard.data.store import DatasetStore, StoreError
from dashboard.embedded_redis import EmbeddedRedisError
from dashboard.redis_conn import in_words, session
from dashboard.rovers import DEFAULT_ROVER, ROVERS, default_of
from dashboard.run import main as serve
from dashboard.settings import Settings, SettingsError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dashboard", description="Perseverance Tracker data commands")
    sub = parser.add_subparsers(dest="command", required=True)
    p_load = sub.add_parser("load", help="load NASA's waypoint, traverse and current-position layers into Redis")
    p_load.add_argument("--waypoints", metavar="SRC", help="URL or path (default: PTRACKER_WAYPOINTS_SOURCE)")
    p_load.add_argument("--traverse", metavar="SRC", help="URL or path (default: PTRACKER_TRAVERSE_SOURCE)")
    p_load.add_argument(
        "--current",
        metavar="SRC",
        help="URL or path of the optional current-position layer, or 'off' (default: PTRACKER_CURRENT_SOURCE)",
    )
    for flag, what, env in (
        ("--heli", "Ingenuity's flight layer", "PTRACKER_HELI_SOURCE"),
        ("--samples", "the sample-tube layer", "PTRACKER_SAMPLES_SOURCE"),
        (
            "--terrain",
            "the terrain (a MOLA MEGDR tile, or a crop .img with its .json beside it)",
            "PTRACKER_TERRAIN_SOURCE",
        ),
    ):
        p_load.add_argument(flag, metavar="SRC", help=f"URL or path of {what} (optional), or 'off' (default: {env})")
    p_load.add_argument("--force", action="store_true", help="re-parse and store even when unchanged")
    rover_help = (
        "whose layers (Curiosity's sources are PTRACKER_MSL_*); default: every rover PTRACKER_ROVERS serves, "
        "each on its own (Perseverance alone when a source option is given)"
    )
    p_load.add_argument("--rover", choices=tuple(ROVERS), help=rover_help)
    p_load.add_argument("--if-empty", action="store_true", help="load only when no dataset is loaded yet")
    p_load.add_argument("--json", action="store_true", help="print the summary as JSON")
    p_info = sub.add_parser("info", help="print the current dataset's summary")
    p_info.add_argument("--json", action="store_true", help="print the summary as JSON")
    p_info.add_argument("--rover", choices=tuple(ROVERS), help="whose dataset (default: every rover served)")
    sub.add_parser("run", help="serve the dashboard (embedded Redis without REDIS_URL; loads data if empty)")
    return parser


SOURCE_OPTIONS = ("waypoints", "traverse", "current", "heli", "samples", "terrain")


def rovers_of(args: argparse.Namespace, settings: Settings) -> tuple[str, ...]:
    """The rovers a command is for: ``--rover``'s; else, when a source option names a
    layer, Perseverance (or the first rover served when it is not); else every rover served."""
    if args.rover:
        return (args.rover,)
    if args.command == "load" and any(getattr(args, name) for name in SOURCE_OPTIONS):
        return (default_of(settings.rovers),)
    return settings.rovers


def _run(args: argparse.Namespace, store: DatasetStore, settings: Settings) -> dict | None:
    if args.command == "load" and args.if_empty:
        loaded = store.meta()  # None: no dataset loaded yet
        if loaded is not None:
            return {**summarize(loaded), "status": "current"}
    if args.command == "load":
        return load(
            store,
            settings.for_rover(store.rover),
            waypoints_source=args.waypoints,
            traverse_source=args.traverse,
            current_source=args.current,
            force=args.force,
            heli_source=args.heli,
            samples_source=args.samples,
            terrain_source=args.terrain,
        )
    meta = store.meta()
    return None if meta is None else {**summarize(meta), "status": "current"}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        return serve()
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    rovers = rovers_of(args, settings)
    # each rover on its own: one failing never keeps another from loading; exit 1 if any failed
    return max(_one_rover(args, settings, rover, named=len(rovers) > 1) for rover in rovers)


def _one_rover(args: argparse.Namespace, settings: Settings, rover: str, named: bool) -> int:
    """Run the command for one rover, printing its outcome (prefixed by its name when
    ``named``); the exit status."""
    prefix = f"{rover}: " if named else ""
    try:
        with session(settings) as client:
            summary = _run(args, DatasetStore.of(client, settings, rover), settings)
        if summary is None:
            again = "" if rover == DEFAULT_ROVER else f" --rover {rover}"
            print(f"{prefix}no dataset loaded yet: run 'python -m dashboard load{again}'", file=sys.stderr)
            return 1
    except (LoadError, SettingsError, StoreError) as exc:
        print(f"{prefix}error: {exc}", file=sys.stderr)
        return 1
    except redis.RedisError as exc:
        print(f"{prefix}error: {in_words(exc)} ({exc})", file=sys.stderr)
        return 1
    except (EmbeddedRedisError, OSError) as exc:  # the embedded server could not start
        print(f"{prefix}error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # anything else: one line, no trace
        print(f"{prefix}error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if args.json:  # one JSON object a line, each naming its rover
        print(orjson.dumps({"rover": rover, **summary}).decode())
    else:
        print(prefix + one_line(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
