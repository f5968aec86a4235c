"""Chart exports, the whole feature: a request checked once, admitted, queued in Redis,
drawn by the RQ worker with the page's own figure, reported on and handed out.

Web side (the web process never imports kaleido):

- :mod:`~dashboard.exports.request`: :class:`ExportRequest`, the one contract between the
  web side and the worker (validated once, stored as the job's JSON, read back by the job),
  the number parsing, the map selection as a bitmask;
- :mod:`~dashboard.exports.errors`: what can go wrong, by type;
- :mod:`~dashboard.exports.admission`: who counts as a client, rate limit, queue shares;
- :mod:`~dashboard.exports.submit`: :func:`request_export`, the one way to ask for an export;
- :mod:`~dashboard.exports.status`: a job's status, its file, the recent-exports list.

Both sides:

- :mod:`~dashboard.exports.queue`: the JSON-only queue and its jobs in Redis;
- :mod:`~dashboard.exports.budget`: byte budgets of finished files.

Worker side (``jobs/worker.py`` runs it):

- :mod:`~dashboard.exports.job`: the RQ job that draws one export, and its failure callback;
- :mod:`~dashboard.exports.browser`: the warm headless browser (kaleido);
- :mod:`~dashboard.exports.vector`: the page's figure made fit for a static file.

Import from the modules; this package re-exports nothing.
"""
