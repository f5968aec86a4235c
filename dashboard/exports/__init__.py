"""Chart exports, web side: validate a request, admit it, queue it, report on it, hand
out the file (the worker renders: ``jobs/``).

- :mod:`~dashboard.exports.request`: the request (:class:`ExportRequest`), number
  parsing, validation, the map selection as a bitmask;
- :mod:`~dashboard.exports.admission`: who counts as a client, rate limit, queue shares;
- :mod:`~dashboard.exports.queue`: the JSON-only queue and its jobs in Redis;
- :mod:`~dashboard.exports.jobs`: submit, describe, status, download;
- :mod:`~dashboard.exports.budget`: byte budgets of finished files;
- :mod:`~dashboard.exports.recent`: the recent-exports list;
- :mod:`~dashboard.exports.submission`: :func:`request_export`, the one submit path of the
  page and the REST API.
"""

from dashboard.exports.admission import (
    ExportBusy,
    client_key,
    pending,
    pending_key,
)
from dashboard.exports.budget import JOB_OVERHEAD, account, budget_usage, evict
from dashboard.exports.jobs import (
    ExportConflict,
    ExportSettings,
    describe,
    download,
    status,
    submit,
)
from dashboard.exports.queue import (
    JOB_FUNCTION,
    QUEUE_NAME,
    SERIALIZER,
    UNREADABLE,
    fetch,
    file_key,
    queue,
    unreadable,
)
from dashboard.exports.recent import recent
from dashboard.exports.request import (
    FORMATS,
    MAX_PX,
    MAX_SCALE,
    MAX_SELECTION,
    MIN_PX,
    MIN_SCALE,
    ExportError,
    ExportRequest,
    check_field,
    check_format,
    decode_selection,
    finite,
    selection_names,
    validate,
    whole,
)
from dashboard.exports.submission import request_export

__all__ = [
    "FORMATS",
    "JOB_FUNCTION",
    "JOB_OVERHEAD",
    "MAX_PX",
    "MAX_SCALE",
    "MAX_SELECTION",
    "MIN_PX",
    "MIN_SCALE",
    "QUEUE_NAME",
    "SERIALIZER",
    "UNREADABLE",
    "ExportBusy",
    "ExportConflict",
    "ExportError",
    "ExportRequest",
    "ExportSettings",
    "account",
    "budget_usage",
    "check_field",
    "check_format",
    "client_key",
    "decode_selection",
    "describe",
    "download",
    "evict",
    "fetch",
    "file_key",
    "finite",
    "pending",
    "pending_key",
    "queue",
    "recent",
    "request_export",
    "selection_names",
    "status",
    "submit",
    "unreadable",
    "validate",
    "whole",
]
