"""Perseverance Tracker: NASA Mars 2020 rover localizations as a dashboard and API.

Kept light on purpose: importing a submodule (``dashboard.data.parse``, ``dashboard.figures``)
must not build an app or connect to anything.
"""

__version__ = "0.1.0"
