"""A worker asked to stop (SIGTERM from a deploy, Ctrl-C) stops its training run at the next step.

Celery's warm shutdown waits for the running task, which for a training run can be hours. So
when the worker starts shutting down, a stop flag is raised; the run's per-step check
(leases.Heartbeat.should_stop) reads it, the training loop saves its state, and the service
hands the run back to the queue (execution.training_run_execute), so the worker exits within
seconds and the next worker resumes the run at once from that state.

Where the flag is raised:
- the worker's main process, on Celery's `worker_shutting_down` signal (sent from its SIGTERM /
  SIGINT handler). With the solo pool (./scripts/run, the tests) the task runs right there.
- prefork children (docker-compose): the flag lives in a one-byte anonymous shared memory map
  created when this module is imported, i.e. in the main process before the pool forks its
  children (the tasks module imports it), so the children read what the main process writes.
- a prefork child sent SIGTERM itself (e.g. the whole process group is signalled) raises the
  flag instead of exiting while it runs a training run (training_active installs the handler
  for the run's duration; billiard sets its own after the child starts); a second SIGTERM is
  handled as billiard would.
"""

from __future__ import annotations

import contextlib
import mmap
import signal
import threading

from celery.signals import worker_shutting_down

# Shared with forked children (MAP_SHARED | MAP_ANONYMOUS): byte 0 is 1 once a stop is asked.
_FLAG = mmap.mmap(-1, 1)


def stop_requested() -> bool:
    """True once this worker (or its main process) was asked to stop."""
    return _FLAG[0] == 1


def request_stop() -> None:
    _FLAG[0] = 1


def reset() -> None:
    """Clear the flag (tests running several workers' logic in one process)."""
    _FLAG[0] = 0


def _in_pool_child() -> bool:
    from billiard.process import current_process

    return current_process().name != "MainProcess"


_previous_sigterm = None


def _on_child_sigterm(signum, frame) -> None:
    request_stop()
    # A second SIGTERM is handled as the pool would have handled the first.
    signal.signal(signal.SIGTERM, _previous_sigterm or signal.SIG_DFL)


@contextlib.contextmanager
def training_active():
    """While a training run executes in a prefork pool child, a SIGTERM sent to the child itself
    asks it to stop (instead of billiard's exit). The solo pool's main process keeps Celery's
    own handler, which raises the flag through worker_shutting_down."""
    global _previous_sigterm
    install = _in_pool_child() and threading.current_thread() is threading.main_thread()
    if install:
        _previous_sigterm = signal.signal(signal.SIGTERM, _on_child_sigterm)
    try:
        yield
    finally:
        if install:
            signal.signal(signal.SIGTERM, _previous_sigterm or signal.SIG_DFL)


@worker_shutting_down.connect
def _on_worker_shutting_down(sig=None, how=None, **kwargs) -> None:
    # Runs in the main process's signal handler: only set a byte.
    request_stop()
