"""Loading the optional context layers: Ingenuity's flights, the sample tubes and the
terrain under the track.

Each is fetched and parsed like the rover's layers (conditional requests, sha256 of the
bytes: an unchanged source is not parsed again), but its failure never fails a load:
the copy the current dataset holds is kept if there is one, and the layer's ``status``
says what happened, in one vocabulary the summary, the API and the page share:

- ``ok``: read from its source at this load (or unchanged since the last one);
- ``stale``: this load could not read it; the previous copy is served;
- ``missing``: it could not be read and there is no previous copy;
- ``off``: no source configured.

The terrain's source is a 128 px/deg MOLA MEGDR tile (named like ``megt44n000hb.img``, a
URL or a path), of which the whole rows under the rover's crop (:func:`terrain_bbox`:
:data:`JEZERO_BBOX` for Perseverance, Gale crater for Curiosity) are read with one HTTP
Range request and its columns kept; or a crop ``.img`` with its ``.json`` sidecar beside
it (same name). MOLA's heights never change, so a stored crop from the same source is
reused on a 304 or an identical sha256 and never parsed again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlparse, urlunparse

import pandas as pd

from dashboard.data.context_summary import CONTEXT_LAYERS, DATASET_FIELDS
from dashboard.data.current import fetched_body
from dashboard.data.fetch import Fetched, FetchError, fetch_layer, iso
from dashboard.data.ingenuity import parse_flights
from dashboard.data.megdr import BBox, TileRead, tile_named, tile_read
from dashboard.data.samples import parse_samples
from dashboard.data.schema import DataError, source_label
from dashboard.data.terrain import Crop, crop_from_rows, parse_crop
from dashboard.rovers import DEFAULT_ROVER, PERSEVERANCE, ROVERS
from dashboard.settings import OFF, Settings

log = logging.getLogger(__name__)

#: The crop read from a tile: 2 x 2 degrees (256 x 256 pixels) around Jezero crater, the
#: edges of NASA's own crop around the rover's landing site and traverse.
JEZERO_BBOX = BBox(*PERSEVERANCE.terrain_bbox)


def terrain_bbox(rover: str = DEFAULT_ROVER) -> BBox:
    """The 2 x 2 degree crop read from a tile for ``rover`` (``dashboard.rovers``)."""
    return BBox(*ROVERS[rover].terrain_bbox)


Parsed = tuple[Any, dict]  # (frame or crop, its metadata)


@dataclass
class Context:
    """What loading the context layers gave: each layer's value (None: none) and metadata."""

    values: dict[str, Any] = field(default_factory=dict)
    layers: dict[str, dict] = field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        """Keyword arguments of :meth:`DatasetStore.save` (``flights``, ``samples``, ``terrain``)."""
        return {DATASET_FIELDS[name]: self.values.get(name) for name in CONTEXT_LAYERS}


def context_sources(settings: Settings, **given: str | None) -> dict[str, str | None]:
    """Each context layer's source: ``given`` (``ingenuity=``...) over the settings; an OFF
    word or an empty value is no source."""
    sources = {
        "ingenuity": given.get("ingenuity") or settings.heli_source,
        "samples": given.get("samples") or settings.samples_source,
        "terrain": given.get("terrain") or settings.terrain_source,
    }
    return {name: None if not src or src.strip().lower() in OFF else src.strip() for name, src in sources.items()}


def load_context(settings: Settings, sources: dict, previous: dict, kept: dict, force: bool) -> Context:
    """Every context layer: ``previous`` is the current version's layer metadata, ``kept``
    its values (``{"ingenuity": frame...}``). Never raises for a layer's own problems."""
    out = Context()
    for name in CONTEXT_LAYERS:
        out.values[name], out.layers[name] = load_layer(
            name, sources.get(name), previous.get(name) or {}, kept.get(name), settings, force
        )
    return out


def load_layer(name: str, source: str | None, prev: dict, kept: Any, settings: Settings, force: bool) -> Parsed:
    """One context layer: (its value or None, its metadata with ``status``)."""
    if not source:
        return None, {"source": None, "status": "off", "sha256": None}
    reusable = kept is not None and prev.get("source") == source and not force
    try:
        fetched, parse = READERS[name](source, prev if reusable else None, settings)
        if reusable and (fetched.not_modified or fetched.sha256 == prev.get("sha256")):
            checked = {"checked_at": iso(fetched.fetched_at), "error": None, "problem": None, "kept_source": None}
            return kept, {**prev, "status": "ok", **checked}
        body = fetched_body(fetched)
        value, details = parse(body)
    except (FetchError, DataError) as exc:
        return _failed(source, prev, kept, str(exc), exc.problem)
    except Exception as exc:  # junk the parsers did not foresee: still never fails the load
        log.warning("the %s layer from %s could not be read", name, source_label(source), exc_info=True)
        return _failed(source, prev, kept, f"{source_label(source)}: {type(exc).__name__}: {exc}", str(exc))
    return value, {
        "source": source,
        "status": "ok",
        **fetched.record(len(body)),
        "error": None,
        "problem": None,
        **details,
    }


def _failed(source: str, prev: dict, kept: Any, error: str, problem: str) -> Parsed:
    """A layer that could not be read: the previous copy kept (``stale``) or none (``missing``)."""
    if kept is not None:
        info = {**prev, "source": source, "status": "stale", "error": error, "problem": problem}
        if prev.get("source") != source:  # the kept copy came from elsewhere: its validators are not this source's
            info.update(etag=None, last_modified=None, kept_source=prev.get("source"))
        return kept, info
    return None, {"source": source, "status": "missing", "sha256": None, "error": error, "problem": problem}


# --- readers: (what was fetched, how to parse its body) -------------------------------------

Reader = Callable[[str, dict | None, Settings], tuple[Fetched, Callable[[bytes], Parsed]]]


def _sol_range(frame: pd.DataFrame) -> dict:
    sols = frame["sol"]
    return {"sol_min": int(sols.min()), "sol_max": int(sols.max())} if len(sols) else {"sol_min": None}


def _read_flights(source: str, prev: dict | None, settings: Settings):
    def parse(body: bytes) -> Parsed:
        layer = parse_flights(body, source)
        flown = int((~layer.frame["deployment"]).sum())
        details = {"name": layer.name, "features": layer.features, "rows": len(layer.frame), "flights": flown}
        return layer.frame, {**details, "skipped": layer.skipped, **_sol_range(layer.frame)}

    return fetch_layer(source, prev, settings), parse


def _read_samples(source: str, prev: dict | None, settings: Settings):
    def parse(body: bytes) -> Parsed:
        layer = parse_samples(body, source)
        sites = int(layer.frame["site"].nunique())
        details = {"name": layer.name, "features": layer.features, "rows": len(layer.frame), "sites": sites}
        return layer.frame, {**details, "skipped": layer.skipped, **_sol_range(layer.frame)}

    return fetch_layer(source, prev, settings), parse


def terrain_tile_read(source: str, rover: str = DEFAULT_ROVER) -> TileRead | None:
    """The rows and columns of ``rover``'s crop to read when ``source`` names a MEGDR tile;
    None for a crop file."""
    name = PurePosixPath(urlparse(source).path if "://" in source else source).name
    try:
        tile = tile_named(name)
    except DataError:
        return None
    return tile_read(terrain_bbox(rover), tile)


def sidecar_of(source: str) -> str:
    """The ``.json`` beside a crop ``.img`` (URL or path)."""
    if "://" in source:
        parts = urlparse(source)
        return urlunparse(parts._replace(path=str(PurePosixPath(parts.path).with_suffix(".json"))))
    return str(PurePosixPath(source).with_suffix(".json"))


def _crop_details(crop: Crop) -> dict:
    rows, cols = crop.shape
    return {
        "rows": rows,
        "columns": cols,
        "bbox": crop.bbox.as_sidecar(),
        "source_tile": crop.source_tile,
        "height_min_m": int(crop.heights.min()),
        "height_max_m": int(crop.heights.max()),
        "terrain_version": crop.version,
    }


def _read_terrain(source: str, prev: dict | None, settings: Settings):
    read = terrain_tile_read(source, settings.rover)
    if read is not None:  # one Range request of the tile's whole rows
        fetched = fetch_layer(source, prev, settings, byte_range=(read.first_byte, read.last_byte))

        def rows(body: bytes) -> Parsed:
            crop = crop_from_rows(body, read, source)
            return crop, {"read": read.range_header, **_crop_details(crop)}

        return fetched, rows
    fetched = fetch_layer(source, prev, settings)
    if fetched.not_modified:  # load_layer keeps the stored crop (or refuses a 304 it did not ask for)
        return fetched, lambda body: (None, {})
    sidecar = fetch_layer(sidecar_of(source), None, settings)
    both = hashlib.sha256(f"{fetched.sha256}|{sidecar.sha256}".encode()).hexdigest()

    def crop_file(body: bytes) -> Parsed:
        crop = parse_crop(body, fetched_body(sidecar), source)
        return crop, {"sidecar": sidecar.source, **_crop_details(crop)}

    return dataclasses.replace(fetched, sha256=both), crop_file


READERS: dict[str, Reader] = {"ingenuity": _read_flights, "samples": _read_samples, "terrain": _read_terrain}
