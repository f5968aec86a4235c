"""What can go wrong with an export, by type. The API chooses the HTTP status of each in
one place (``dashboard/api/errors.py``); the page says them in words."""

from __future__ import annotations


class ExportError(ValueError):
    """A request that cannot be exported; the message says why, in words."""


class ExportConflict(RuntimeError):
    """The same export is being queued by another request right now: try again shortly."""

    retry_after = 2


class ExportBusy(RuntimeError):
    """Too many exports right now; try again in ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(ExportBusy):
    """The client asked for more exports than its rate (a moving minute) allows."""


class ShareUsed(ExportBusy):
    """The client already has its share of the queue waiting or rendering."""


class QueueFull(ExportBusy):
    """The export queue holds as many jobs as it may."""


class NotReplicated(ExportBusy):
    """The job is stored on the Redis primary but no replica confirmed it in time (Redis
    WAIT, with sentinels): not acknowledged, since a failover now could lose it. Asking
    again returns the same job (and confirms it) once a replica is back."""

    def __init__(self, seconds: float):
        super().__init__(
            f"the export was queued but no Redis replica confirmed it within {seconds:g} s, so it is not "
            "acknowledged (a failover now could lose it); ask again shortly",
            retry_after=2,
        )


class ExportFailed(RuntimeError):
    """A render that cannot succeed on a retry (too large, its dataset dropped, a stored
    request that no longer validates); the message is shown to the user."""
