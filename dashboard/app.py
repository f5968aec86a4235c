"""The app factory: a Flask server carrying the Dash page.

``create_app(settings=None, store=None)`` builds everything from explicit arguments, so
tests (and several apps in one process) never share state through globals.
"""

from __future__ import annotations

import logging

import dash
import flask
import redis
from werkzeug.middleware.proxy_fix import ProxyFix

from dashboard import logs, metrics
from dashboard.api import http_cache
from dashboard.api.server import install as install_api
from dashboard.data.store import DatasetStore, StoreError
from dashboard.data.watch import KeyWatch
from dashboard.page import vendor
from dashboard.page.callbacks import STORE_DOWN, register_callbacks
from dashboard.page.callbacks.current import rover_notes
from dashboard.page.first_view import requested_search
from dashboard.page.guard import install as install_guard
from dashboard.page.layout import serve_layout
from dashboard.page.layout_cache import install as install_layout_cache
from dashboard.page.ranges import rover_from_query
from dashboard.redis_conn import connect
from dashboard.rovers import DEFAULT_ROVER, ROVERS
from dashboard.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)
#: the page's <head> names the Atom feed of new drives: each served rover's
FEED_LINK = (
    '<link rel="alternate" type="application/atom+xml" title="Perseverance Tracker: new drives{of}" '
    'href="/{rover}/feed.atom">'
)


def feed_links(served: tuple[str, ...]) -> str:
    """The page's <link>s to the served rovers' feeds (Perseverance's as it always was)."""
    return "\n        ".join(
        FEED_LINK.format(rover=name, of="" if name == DEFAULT_ROVER else f" of {ROVERS[name].label}") for name in served
    )


def page_layout(served: dict[str, DatasetStore], settings: Settings):
    """The page's layout function: built per request for the rover and range its address
    names (Dash asks for it from the page, so the request's Referer is that address)."""

    def layout():
        search = requested_search()
        rover = rover_from_query(search, settings.rovers)
        try:
            dataset = served[rover].current()
            notes = flask.g.get("ptracker_rover_notes")  # read by the layout's validator, when it ran
            return serve_layout(
                dataset, settings, search=search, rover=rover, notes=rover_notes(served) if notes is None else notes
            )
        except (redis.RedisError, StoreError) as exc:
            log.warning("store unreachable while serving the page: %s", exc)
            return serve_layout(None, settings, store_error=STORE_DOWN, rover=rover)

    return layout


def create_app(settings: Settings | None = None, store: DatasetStore | None = None) -> dash.Dash:
    """The app. ``store`` is Perseverance's (the other rovers' share its client and prefix:
    :meth:`DatasetStore.of`); by default one is connected from ``settings``."""
    settings = settings or Settings.from_env()
    if store is None:
        store = DatasetStore.of(connect(settings), settings)
    base = settings.replace(key_prefix=store.prefix)
    stores = {name: store if name == DEFAULT_ROVER else DatasetStore.of(store.redis, base, name) for name in ROVERS}
    served = {name: stores[name] for name in settings.rovers}  # the page's rovers, in order
    watch = KeyWatch(store.redis)  # one version everywhere within milliseconds, no GET per request
    for each in served.values():
        each.use_watch(watch)
    server = flask.Flask(__name__)
    if settings.proxy_count:  # behind N trusted proxies: the client is who they say it is
        n = settings.proxy_count
        # Flask's documented way to add WSGI middleware (mypy sees a method being replaced)
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    server.config["PTRACKER_SETTINGS"] = settings
    server.config["PTRACKER_STORE"] = store
    server.config["PTRACKER_STORES"] = stores
    # Order matters: compression's after_request hook first (it then runs last); request
    # ids and metrics before the cache's 304 short-cut, so those answers are counted too.
    http_cache.install_compression(server)
    logs.install(server, settings)
    callback_map: dict = {}
    metrics.install(server, served, settings, callback_map)
    # the served rovers' only: a rover not served answers 404, never a 304
    http_cache.install(server, served, max_age=settings.cache_max_age, stale=settings.cache_stale)
    app = dash.Dash(
        __name__,
        server=server,
        title="Perseverance Tracker",
        update_title=None,
        assets_folder=str(PROJECT_ROOT / "assets"),
        serve_locally=True,
    )

    layout = page_layout(served, settings)

    # plotly.js with only the page's trace types, before Dash's renderer: dcc.Graph uses it
    app.scripts.append_script(vendor.SCRIPT)
    # the page's language, for screen readers and axe (Dash's index has none), and its
    # Atom feed of new drives, for feed readers that look in the page's head
    app.index_string = app.index_string.replace("<html>", '<html lang="en">', 1).replace(
        "{%css%}", feed_links(settings.rovers) + "\n        {%css%}", 1
    )
    # Dash checks callbacks against this layout and sends it in every page's config: the
    # page without data has every component and none of the figures (~300 KB with them)
    app.validation_layout = serve_layout(None, settings, rover=next(iter(served)))
    app.layout = layout
    register_callbacks(app, served, settings)
    install_api(server, app.csp_hashes())
    install_guard(server, app.callback_map)
    install_layout_cache(server, served)  # a reload revalidates the layout (304) while nothing changed
    callback_map.update(app.callback_map)  # names the metrics may use as callback labels
    # Dash registers the script paths it may serve only when it renders the index page
    # in that process; under gunicorn a worker that has not rendered it refuses the
    # page's scripts (DependencyException, 500). Render it once here, in every process.
    server.test_client().get("/", headers={"Accept": "text/html"})
    return app
