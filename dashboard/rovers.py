"""The rovers this tracker follows: one registry, the rover a dimension of the data.

Each :class:`Rover` names NASA's layers for it (MMGIS's ``<code>/Layers/json/...``), the
environment variables that override them, where its terrain crop lies, its sol calendar,
and whether it has the context layers (Ingenuity's flights and the sample tubes are
Perseverance's alone). Everything else (the store, the loader, the routes, the page, the
exports) takes a rover's name and looks it up here; nothing is copied per rover.

Perseverance's keys, routes and environment variables are the ones this tracker had
before it followed a second rover: its answers are unchanged. Another rover's dataset
lives under ``<prefix><name>:`` (``ptracker:curiosity:dataset:...``), loaded and versioned
on its own: a failure of one never touches the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.marstime import M20, MSL, SolCalendar

MMGIS = "https://mars.nasa.gov/mmgis-maps"
MEGDR = "https://pds-geosciences.wustl.edu/mgs/mgs-m-mola-5-megdr-l3-v1/mgsl_300x/meg128"


@dataclass(frozen=True)
class Rover:
    name: str  # in routes, URLs, keys and PTRACKER_ROVERS: "perseverance"
    label: str  # for people: "Perseverance"
    mission: str  # "Mars 2020"
    code: str  # NASA's layer prefix: "M20"
    place: str  # where it drives: "Jezero crater"
    calendar: SolCalendar
    #: the 2 x 2 degree terrain crop read from a MEGDR tile (the rows around the drive)
    terrain_bbox: tuple[float, float, float, float]  # min lon, min lat, max lon, max lat
    #: the MEGDR tile holding that crop (a 128 px/deg tile: one Range request of rows)
    terrain_tile: str
    #: the environment variables of its sources start with this ("PTRACKER_", "PTRACKER_MSL_")
    env_prefix: str
    #: Ingenuity's flights and the sample tubes belong to this rover's mission
    has_context: bool = False

    def url(self, layer: str) -> str:
        """NASA's MMGIS URL of one of its layers ("waypoints", "traverse", "waypoints_current")."""
        return f"{MMGIS}/{self.code}/Layers/json/{self.code}_{layer}.json"

    @property
    def terrain_url(self) -> str:
        return f"{MEGDR}/{self.terrain_tile}"

    def key_prefix(self, base: str) -> str:
        """Where this rover's dataset lives in Redis under the app's ``base`` prefix."""
        return base if self.name == DEFAULT_ROVER else f"{base}{self.name}:"


PERSEVERANCE = Rover(
    name="perseverance",
    label="Perseverance",
    mission="Mars 2020",
    code="M20",
    place="Jezero crater",
    calendar=M20,
    # the edges of NASA's own crop around the landing site and the traverse
    terrain_bbox=(76.21875, 17.4296875, 78.21875, 19.4296875),
    terrain_tile="megt44n000hb.img",
    env_prefix="PTRACKER_",
    has_context=True,
)
CURIOSITY = Rover(
    name="curiosity",
    label="Curiosity",
    mission="Mars Science Laboratory",
    code="MSL",
    place="Gale crater",
    calendar=MSL,
    # 2 x 2 degrees around the drive (Bradbury Landing 137.44 E, 4.59 S to Mount Sharp)
    terrain_bbox=(136.3828125, -5.8125, 138.3828125, -3.8125),
    # the tile of 0 to 44 S, 90 to 180 E
    terrain_tile="megt00n090hb.img",
    env_prefix="PTRACKER_MSL_",
)
ROVERS: dict[str, Rover] = {r.name: r for r in (PERSEVERANCE, CURIOSITY)}
DEFAULT_ROVER = PERSEVERANCE.name


class UnknownRover(ValueError):
    """A rover name that is not in the registry (or not served by this install)."""


def default_of(served: tuple[str, ...]) -> str:
    """The rover a request that names none is for: Perseverance when it is served (or
    nothing is), else the first rover served (an install following Curiosity alone)."""
    return DEFAULT_ROVER if DEFAULT_ROVER in served or not served else served[0]


def rover(name: str | None) -> Rover:
    """The registry's rover by name (None: Perseverance); UnknownRover for another name."""
    if name is None:
        return PERSEVERANCE
    try:
        return ROVERS[name]
    except KeyError:
        raise UnknownRover(f"no rover named {name!r}: this tracker knows {', '.join(ROVERS)}") from None
