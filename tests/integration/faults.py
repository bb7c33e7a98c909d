"""Real moving parts for the fault tests: worker and beat processes, a throwaway Redis server
and a TCP proxy in front of Postgres that a test can cut and restore."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import CELERY, ROOT, wait_until

FAULT_REDIS_PORT = int(os.environ.get("EMBER_FAULT_REDIS_PORT", "6390"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server without persistence: a restart loses every queued message."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._answers, timeout=20, interval=0.1, what="redis-server to start")

    def _answers(self) -> bool:
        import redis

        try:
            return redis.Redis(port=self.port).ping()
        except redis.exceptions.ConnectionError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=20)
            self.process = None


@pytest.fixture
def fault_redis(tmp_path):
    """The fault tests' own Redis. At teardown, every worker and beat the test started and left
    running (a failed assertion before its own stop) is stopped first: the next test's Redis
    takes the same port, and a leftover worker would consume that test's messages."""
    server = RedisServer(FAULT_REDIS_PORT, tmp_path)
    server.start()
    yield server
    while _STARTED:
        _STARTED.pop().stop()
    server.stop()


# Every Proc started and not yet reaped by fault_redis's teardown.
_STARTED: list[Proc] = []


class Proc:
    """A worker or beat subprocess with its log."""

    def __init__(self, args: list[str], env: dict, log_path: Path) -> None:
        self.log_path = log_path
        self._log = open(log_path, "a")
        self.process = subprocess.Popen(
            [str(CELERY), "-A", "webapp.config", *args],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        _STARTED.append(self)

    def log(self) -> str:
        return self.log_path.read_text()

    def kill(self) -> None:
        """As if the machine died: no chance to acknowledge or clean up."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=20)
        self._log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def start_worker(env: dict, name: str, log_dir: Path, queues: str = "train,judge,default"):
    worker = Proc(
        [
            "worker",
            "-Q",
            queues,
            "-P",
            "solo",
            "-l",
            "INFO",
            "-n",
            f"{name}-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        env,
        log_dir / f"{name}.log",
    )
    wait_until(lambda: "ready." in worker.log(), timeout=90, what=f"worker {name} to start")
    return worker


def start_beat(env: dict, log_dir: Path):
    return Proc(
        ["beat", "-l", "INFO", "-s", str(log_dir / "beat-schedule")], env, log_dir / "beat.log"
    )


def fault_env(worker_env: dict, redis_url: str, **extra: str) -> dict:
    """Worker settings for the fault tests: their own broker, short leases and retries."""
    return {
        **worker_env,
        "REDIS_URL": redis_url,
        "EMBER_RUN_LEASE_SECONDS": "3",
        "EMBER_RECOVER_SECONDS": "1",
        "EMBER_RETRAIN_CHECK_SECONDS": "3600",
        "EMBER_TRANSIENT_RETRY_SECONDS": "2",
        **extra,
    }


def publish(task, args: tuple, broker_url: str, **options) -> None:
    """Send a task message to the given broker (not the test settings' broker)."""
    from webapp.config.celery import app

    with app.connection_for_write(broker_url) as connection:
        task.apply_async(args, connection=connection, **options)


class TcpProxy:
    """127.0.0.1:port -> target; cut() drops every connection and refuses new ones until
    restore(), as if the database host became unreachable for a while."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def restore(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone leaves the
            # listening socket accepting until that accept returns.
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)
            server.close()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def run_settled(run_id: int, timeout: float = 300):
    from webapp.retraining.models import TrainingRun

    return wait_until(
        lambda: (
            (run := TrainingRun.objects.get(pk=run_id)).status not in TrainingRun.ACTIVE and run
        ),
        timeout=timeout,
        what=f"run {run_id} to finish",
    )


def time_now() -> float:
    return time.monotonic()
