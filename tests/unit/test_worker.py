"""The export worker's start-up signal handling relies on RQ's private hook."""

from rq import SimpleWorker

from jobs.worker import ExportWorker


def test_rq_still_installs_its_signal_handlers_through_the_hook_we_extend():
    # If an RQ upgrade renames this, our early SIGINT/SIGTERM handler would never be
    # replaced and the worker would ignore Ctrl-C: this test fails first.
    assert callable(getattr(SimpleWorker, "_install_signal_handlers", None))
    assert "_install_signal_handlers" in ExportWorker.__dict__


def test_a_stop_before_rq_is_ready_stops_the_loop_before_any_job():
    worker = ExportWorker.__new__(ExportWorker)  # no Redis needed for the hook itself
    worker._stop_requested = False
    worker.log = __import__("logging").getLogger("test")
    ExportWorker.early_stop = [2]
    try:
        import signal

        previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
        try:
            worker._install_signal_handlers()
            assert worker._stop_requested is True
        finally:
            signal.signal(signal.SIGINT, previous[0])
            signal.signal(signal.SIGTERM, previous[1])
    finally:
        ExportWorker.early_stop = []


def test_the_worker_reads_its_environment_through_settings():
    import pytest

    from dashboard.settings import Settings, SettingsError

    env = {
        "REDIS_URL": "redis://example:6379/0",
        "REDIS_PASSWORD": "secret",
        "PTRACKER_HEARTBEAT_GRACE": "20",
        "PTRACKER_MAINTENANCE_INTERVAL": "45",
        "PTRACKER_WORKER_TTL": "90",
        "PTRACKER_WARM_BROWSER": "0",
        "PTRACKER_WORKER_METRICS_PORT": "9150",
        "PTRACKER_WORKER_METRICS_ADDR": "127.0.0.1",
        "PTRACKER_LOG_LEVEL": "warning",
        "PTRACKER_LOG_FORMAT": "text",
        "PTRACKER_ACCESS_LOG": "0",
        "PTRACKER_METRICS_PUBLIC": "1",
        "PTRACKER_CACHE_MAX_AGE": "30",
        "PTRACKER_CACHE_STALE": "120",
        "PTRACKER_EXPORT_RETRIES": "3",
    }
    s = Settings.from_env(env)
    assert (s.redis_url, s.redis_password) == ("redis://example:6379/0", "secret")
    assert (s.heartbeat_grace, s.maintenance_interval, s.worker_ttl) == (20, 45, 90)
    assert (s.warm_browser, s.worker_metrics_port, s.worker_metrics_addr) == (False, 9150, "127.0.0.1")
    assert (s.log_level, s.log_format, s.access_log, s.metrics_public) == ("WARNING", "text", False, True)
    assert (s.cache_max_age, s.cache_stale, s.export_retries) == (30, 120, 3)
    defaults = Settings.from_env({})
    assert defaults == Settings()  # the documented defaults (docs/configuration.md)
    assert (defaults.heartbeat_grace, defaults.maintenance_interval, defaults.worker_ttl) == (15, 30, 60)
    assert defaults.warm_browser and defaults.worker_metrics_port == 0 and defaults.worker_metrics_addr == "0.0.0.0"
    assert (defaults.cache_max_age, defaults.cache_stale, defaults.export_retries) == (60, 300, 1)
    assert (defaults.log_level, defaults.log_format, defaults.access_log) == ("INFO", "json", True)
    for name, bad in (
        ("PTRACKER_WORKER_TTL", "soon"),
        ("PTRACKER_MAINTENANCE_INTERVAL", "0"),
        ("PTRACKER_HEARTBEAT_GRACE", "-1"),
    ):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: bad})


def test_one_key_prefix_and_export_timeout_default():
    import inspect

    from dashboard.data.store import DatasetStore
    from dashboard.exports import job as export_job
    from dashboard.settings import DEFAULT_EXPORT_TIMEOUT, DEFAULT_KEY_PREFIX, Settings

    assert Settings().key_prefix == DEFAULT_KEY_PREFIX == "ptracker:"
    assert inspect.signature(DatasetStore).parameters["prefix"].default == DEFAULT_KEY_PREFIX
    assert Settings().export_timeout == DEFAULT_EXPORT_TIMEOUT == 60
    assert export_job.render_timeout(None) == 30.0  # 60 s job: the render may take 30 s (the clamp's top)
    assert export_job.render_timeout(8) == 5.0 and export_job.render_timeout(20) == 15.0


def test_the_worker_client_waits_as_long_as_rq_needs():
    """The worker's client comes from redis_conn, without the web side's short socket
    timeout (RQ sets the one its blocking dequeue needs)."""
    from dashboard.redis_conn import from_url
    from dashboard.settings import Settings

    settings = Settings(redis_url="redis://127.0.0.1:1/0", redis_password="pw")
    web, worker = from_url(settings), from_url(settings, blocking=True)
    assert web.connection_pool.connection_kwargs["socket_timeout"] == settings.redis_socket_timeout
    assert worker.connection_pool.connection_kwargs.get("socket_timeout") is None
    assert worker.connection_pool.connection_kwargs["password"] == "pw"


def test_a_blank_or_short_admin_token_is_refused_not_ignored():
    """A set-but-blank PTRACKER_ADMIN_TOKEN used to read as unset and reopen POST /load."""
    import pytest

    from dashboard.settings import MIN_ADMIN_TOKEN, Settings, SettingsError

    for bad, said in (("", "blank"), ("   ", "blank"), ("short", "only 5 characters")):
        with pytest.raises(SettingsError, match=f"PTRACKER_ADMIN_TOKEN is set but {said}"):
            Settings.from_env({"PTRACKER_ADMIN_TOKEN": bad})
    good = "x" * MIN_ADMIN_TOKEN
    assert Settings.from_env({"PTRACKER_ADMIN_TOKEN": f" {good} "}).admin_token == good
    assert Settings.from_env({}).admin_token is None  # unset: POST /load open, as documented
