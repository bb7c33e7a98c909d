# Shared set-up steps for scripts/run and scripts/test. Each step is idempotent and quick when
# nothing changed, so both commands work on a machine that has never seen the project.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

log() { printf '\033[1;33m[ember]\033[0m %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  log "installing Debian packages: $*"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

find_python() {
  # Django 6 needs Python 3.12 or newer.
  local candidate
  for candidate in python3.13 python3.12 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c \
      'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      command -v "$candidate"; return
    fi
  done
  for candidate in "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python3 /usr/local/bin/python3.1[2-9]; do
    if [ -x "$candidate" ]; then echo "$candidate"; return; fi
  done
  log "Python 3.12+ is required (Django 6); install it and re-run."; exit 1
}

ensure_python_env() {
  # $1: pip extras, e.g. "[test]"
  local extras="${1:-}" stamp="$VENV/.ember-installed" want
  want="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)$extras"
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtualenv at .venv"
    "$(find_python)" -m venv "$VENV"
  fi
  # An install with extras (scripts/test's "[test]") also serves a plain one (scripts/run).
  case "$(cat "$stamp" 2>/dev/null)" in
    "$want" | "$want["*) ;;
    *)
      log "installing Python packages (pyproject.toml$extras)"
      "$VENV/bin/python" -m pip install -q --upgrade pip
      "$VENV/bin/python" -m pip install -q -e "$ROOT$extras"
      echo "$want" > "$stamp"
      ;;
  esac
}

ensure_node_modules() {
  if ! command -v npm >/dev/null 2>&1; then apt_install nodejs npm; fi
  if [ ! -f "$ROOT/node_modules/htmx.org/dist/htmx.min.js" ] || \
     [ "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]; then
    log "installing npm packages (htmx)"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

ensure_chromium() {
  if [ ! -x /usr/bin/chromium ]; then apt_install chromium; fi
}

ensure_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return; fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then apt_install postgresql; fi
  log "starting PostgreSQL"
  local version; version="$(ls /etc/postgresql | sort -V | tail -1)"
  if ! as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null; then
    as_root pg_ctlcluster "$version" main start
  fi
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && return; sleep 1; done
  log "PostgreSQL did not start"; exit 1
}

ensure_redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return; fi
  if ! command -v redis-server >/dev/null 2>&1; then apt_install redis-server; fi
  log "starting Redis"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ember.log
  for _ in $(seq 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return; sleep 1; done
  log "Redis did not start"; exit 1
}

ensure_torch_reference() {
  # transformers on PyTorch CPU: the reference the HF-checkpoint parity tests compare against.
  # The CPU torch wheel on these machines is for Python 3.11, so it lives in its own venv
  # (.venv-torch) and the tests call it through EMBER_TORCH_PYTHON.
  local venv="$ROOT/.venv-torch" python
  if ! "$venv/bin/python" -c "import torch, transformers" >/dev/null 2>&1; then
    python="$(command -v python3.11 || ls "$HOME"/.pyenv/versions/3.11*/bin/python3 2>/dev/null | head -1)"
    if [ -z "$python" ]; then
      log "no Python 3.11 for the torch reference: HF parity tests will be skipped"; return
    fi
    log "installing the PyTorch CPU reference (.venv-torch)"
    rm -rf "$venv"
    if ! { "$python" -m venv "$venv" && "$venv/bin/python" -m pip install -q torch==2.13.0 \
        transformers==4.57.6 safetensors==0.8.0 numpy==2.4.6; }; then
      log "could not install the torch reference: HF parity tests will be skipped"; return
    fi
  fi
  export EMBER_TORCH_PYTHON="$venv/bin/python"
}
