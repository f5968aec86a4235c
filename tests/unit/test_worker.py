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
