"""gunicorn settings, from the environment (used by the Procfile and `make run`)."""

import logging
import os
import shutil
import signal
import sys
import tempfile

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{int(os.environ.get('PORT', '8050'))}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = int(os.environ.get("WEB_TIMEOUT", "90"))  # a page-triggered load may take the fetch deadline
graceful_timeout = 20
# The app logs one JSON access line per request (with its request id; dashboard/logs.py):
# gunicorn's own text access log would repeat it. GUNICORN_ACCESS_LOG=1 brings it back.
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG") == "1" else None
errorlog = "-"
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from dashboard.logs import dict_config as _log_config  # noqa: E402
from dashboard.settings import Settings  # noqa: E402

# The app's settings, read once here as well: logging is configured by gunicorn (in the
# master, before the app is loaded), so its level and format cannot wait for create_app.
# JSON lines, or plain text with PTRACKER_LOG_FORMAT=text; either way the app's own loggers
# (the access line included) reach stdout at PTRACKER_LOG_LEVEL.
_settings = Settings.from_env()
_text_logs = _settings.log_format == "text"
logconfig_dict = _log_config(_settings.log_level, text=_text_logs)
# With a logconfig, gunicorn writes its access line whatever `accesslog` says: keep it for
# plain text (the app's own access line is JSON-only), silence it next to the app's JSON one.
_gunicorn_access = _text_logs or os.environ.get("GUNICORN_ACCESS_LOG") == "1"
logconfig_dict["loggers"] = {
    "gunicorn.error": {"level": "INFO", "handlers": ["json"], "propagate": False},
    "gunicorn.access": {"level": "INFO" if _gunicorn_access else "CRITICAL", "handlers": ["json"], "propagate": False},
}

# Prometheus multiprocess mode: every worker writes its samples under this directory and
# GET /metrics adds them up. `python -m dashboard run` (and a platform) may set it; else
# a fresh private one is made here and removed at exit. Never point two unrelated
# servers at one directory: their samples would be added up.
_own_metrics_dir = None
# Without REDIS_URL or REDIS_SENTINELS (gunicorn run by hand, not by `python -m dashboard
# run`, which passes its own), the master starts (or joins) the embedded Redis of PTRACKER_DATA_DIR and gives
# its URL to the workers; it saves and stops it at exit. Were it started by whichever
# worker came first, killing that worker (timeout, OOM) took the server along: the other
# workers answered 503 until a new one started another.
_embedded_redis = None


def on_starting(server):
    """In the master, before any worker is forked (workers inherit the variables and import
    prometheus_client only when they load the app)."""
    global _own_metrics_dir, _embedded_redis
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        _own_metrics_dir = tempfile.mkdtemp(prefix="ptracker-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = _own_metrics_dir
    if not _settings.redis_external:  # neither REDIS_URL nor REDIS_SENTINELS
        from dashboard.embedded_redis import EmbeddedRedis

        _embedded_redis = EmbeddedRedis(_settings.data_dir).start()
        os.environ["REDIS_URL"] = _embedded_redis.url
        server.log.info("no REDIS_URL: the embedded Redis of %s serves every worker", _settings.data_dir)


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(_own_metrics_dir, ignore_errors=True)
    if _embedded_redis is not None:
        _embedded_redis.stop()  # saves, if the master started it


def child_exit(server, worker):
    """A web worker is gone: its live gauges leave the aggregate (counters are kept)."""
    try:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
    except Exception:  # metrics must never stop the server
        pass


forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
control_socket_disable = True  # not used; and the container's home is read-only


# Why a worker ignored Ctrl-C for the whole graceful timeout until the master SIGKILLed it:
# gthread's request threads are not daemon threads, and one blocked reading a client that
# sent half a request (gthread reads without a timeout once the first bytes arrived) makes
# interpreter exit join it forever. gunicorn's own quit path (SIGINT/SIGQUIT: sys.exit in
# the signal handler) cannot help, and on Ctrl-C a worker gets SIGINT from the terminal and
# SIGQUIT from the master at once: the second one interrupts the first one's handler, which
# either deadlocks on the thread pool's shutdown lock or skips gunicorn's worker_exit. So
# the quit handler installed by post_worker_init and the worker_exit hook (after a graceful
# SIGTERM) end the process without joining those threads.


def _exit_now(code: int) -> None:
    # Runs inside a signal handler: the interrupted code may hold the log handler or be in
    # the middle of a write to stdout, so nothing here may raise or wait.
    try:
        logging.shutdown()
    except BaseException:  # noqa: B036 - e.g. RuntimeError "reentrant call" on a busy stream
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: B036
            pass
    os._exit(code)


def _quit_now(worker):
    def handler(signum, frame):
        # Ignore whatever else arrives first: on Ctrl-C a worker gets SIGINT from the
        # terminal and SIGQUIT from the master at once. gthread's own quit handler calls
        # ThreadPoolExecutor.shutdown, whose non-reentrant lock the second signal's handler
        # then waits for forever, in the same thread: the worker hung until SIGKILL.
        for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        worker.alive = False
        try:
            worker.log.info("Worker exiting on quit signal (pid: %s)", worker.pid)
        except BaseException:  # noqa: B036
            pass
        _exit_now(0)

    return handler


def post_worker_init(worker):
    """SIGINT/SIGQUIT (gunicorn's immediate shutdown: in-flight requests are dropped anyway)
    end the worker at once, with the handler above instead of gthread's."""
    quit_now = _quit_now(worker)
    signal.signal(signal.SIGINT, quit_now)
    signal.signal(signal.SIGQUIT, quit_now)


def worker_exit(server, worker):
    """After a graceful stop (SIGTERM: in-flight requests had graceful_timeout to finish)."""
    exc = sys.exc_info()[1]
    code = 0
    if isinstance(exc, SystemExit):
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    elif exc is not None:
        code = 1
    _exit_now(code)
