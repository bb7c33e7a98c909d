"""`./scripts/run` with nothing configured serves every page, Insights included: the real script,
with no DATABASE_URL or REDIS_URL, its var folder in a temp dir (the embedded PostgreSQL and the
file broker live there) and no first training run (EMBER_BOOTSTRAP_AUTORATER=0, to spare the
CPU). On SIGTERM it stops everything it started, the embedded server included."""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = (
    "/",
    "/p/demo/queue/",
    "/p/demo/insights/",
    "/p/demo/insights/disagreements/",
    "/p/demo/insights/versions/",
    "/p/demo/insights/raters/",
    "/p/demo/autorater/",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(condition, deadline_s: float, what: str, output: Path):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} within {deadline_s} s; output:\n{output.read_text()[-3000:]}")


def _answers(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=5).status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture
def var_dir():
    # Not under pytest's tmp_path (kept private, 0700): the server may run as its own user.
    path = Path(tempfile.mkdtemp(prefix="ember-run-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_scripts_run_serves_every_page_on_the_embedded_defaults(var_dir):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
        "EMBER_VAR_DIR": str(var_dir),
        "EMBER_ARTIFACT_ROOT": str(var_dir / "artifacts"),
        "EMBER_ADDR": f"127.0.0.1:{port}",
        "EMBER_BOOTSTRAP_AUTORATER": "0",
        "DJANGO_SETTINGS_MODULE": "webapp.config.settings.local",
    }
    output = var_dir / "console.log"
    with open(output, "w") as console:
        script = subprocess.Popen(
            [str(ROOT / "scripts" / "run")],
            cwd=ROOT,
            env=env,
            stdout=console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait(lambda: _answers(f"{base}/login/"), 240, "the app did not serve", output)
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login = opener.open(f"{base}/login/").read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login).group(1)
        form = {"username": "admin", "password": "admin", "csrfmiddlewaretoken": token}
        opener.open(
            urllib.request.Request(
                f"{base}/login/",
                data=urllib.parse.urlencode(form).encode(),
                headers={"Referer": f"{base}/login/"},
            )
        )
        for page in PAGES:
            response = opener.open(f"{base}{page}")
            body = response.read().decode()
            assert response.status == 200, page
            assert "Insights unavailable" not in body, page
            assert response.url == f"{base}{page}", page  # logged in: not sent to /login/
        assert (var_dir / "postgres" / "PG_VERSION").exists()
        text = output.read_text()
        assert "PostgreSQL is up" in text and f"Ember is at {base}/" in text
        # each process's lines carry its name; the workers say they are ready
        _wait(lambda: "judge | " in output.read_text(), 120, "no judge worker line", output)
        assert "web   | " in output.read_text()
    finally:
        script.send_signal(signal.SIGTERM)
        try:
            script.wait(timeout=120)
        finally:
            if script.poll() is None:
                os.killpg(script.pid, signal.SIGKILL)
    # everything it started is gone, the embedded PostgreSQL included
    _wait(
        lambda: not (var_dir / "postgres" / "postmaster.pid").exists(),
        60,
        "the embedded PostgreSQL did not stop",
        output,
    )
    leftovers = subprocess.run(
        ["pgrep", "-f", str(var_dir)], capture_output=True, text=True
    ).stdout.split()
    assert leftovers == [], leftovers
