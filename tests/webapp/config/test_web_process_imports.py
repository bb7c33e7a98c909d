"""The web process never loads JAX: page views read `evaluation` (numpy/scipy/sklearn only),
and model code runs on the Celery workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# Imports everything a web process imports to serve pages and the API: the WSGI application,
# the URL conf, every module a URL resolves to, and every views/selectors/tasks module.
PROBE = """
import importlib, json, pkgutil, sys
import django
django.setup()
from django.urls import get_resolver
import webapp
import webapp.config.wsgi

def walk(patterns):
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            yield from walk(pattern.url_patterns)
        else:
            yield pattern.callback.__module__

view_modules = sorted(set(walk(get_resolver().url_patterns)))
wanted = ("views", "selectors", "tasks", "forms", "services", "charts", "routers")
other = [
    m.name for m in pkgutil.walk_packages(webapp.__path__, "webapp.")
    if any(part in wanted for part in m.name.split(".")) and ".migrations" not in m.name
]
for name in view_modules + other:
    importlib.import_module(name)
MODEL_PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax")
loaded = sorted(name for name in sys.modules if name.split(".")[0] in MODEL_PACKAGES)
print(json.dumps({"modules": view_modules + other, "loaded": loaded}))
"""


def test_web_process_imports_no_jax():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.config.settings.test"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    # The probe really walked the app: insights, annotation and the API are among the modules.
    assert any(name.startswith("webapp.insights.views") for name in probe["modules"])
    assert any(name.startswith("webapp.api") for name in probe["modules"])
    assert any(name.startswith("webapp.annotation.views") for name in probe["modules"])
    packages = sorted({name.split(".")[0] for name in probe["loaded"]})
    assert packages == [], f"the web process loaded {packages}"
