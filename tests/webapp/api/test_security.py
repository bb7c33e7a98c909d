"""Security checks: CSRF on every form, escaping of untrusted text, login throttling, no
secrets in the repository, safe imports, checkpoints only in safe formats."""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from judging.demo_tasks import ARITHMETIC
from judging.task_format import RESPONSE_A, RESPONSE_B
from webapp.annotation.models import Item

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = '<script>window.__pwned=1</script><img src=x onerror="alert(1)">'


# --- CSRF ----------------------------------------------------------------------------------


def test_every_post_form_in_the_templates_carries_a_csrf_token():
    templates = [p for p in ROOT.glob("webapp/**/templates/**/*.html")]
    assert templates
    missing = []
    for path in templates:
        text = path.read_text()
        for form in re.findall(r"<form\b[^>]*>.*?</form>", text, flags=re.S | re.I):
            if re.search(r'method="post"', form, re.I) and "{% csrf_token %}" not in form:
                missing.append(f"{path.relative_to(ROOT)}: {form[:80]}")
    assert not missing, missing
    # htmx requests send the token from the page's hx-headers.
    base = (ROOT / "webapp/templates/base.html").read_text()
    assert "X-CSRFToken" in base and "{{ csrf_token }}" in base


def post_pages(world) -> list[tuple[str, str, dict]]:
    slug, item = world.project.slug, world.items[0]
    return [
        ("admin", "/logout/", {}),
        ("rater", f"/p/{slug}/items/{world.items[1].pk}/label/", {"label": "A"}),
        ("rater", f"/p/{slug}/items/{world.items[2].pk}/skip/", {}),
        ("rater", f"/p/{slug}/items/{item.pk}/tag/", {"tag": "ambiguous"}),
        ("admin", f"/p/{slug}/adjudicate/{item.pk}/", {"label": "A"}),
        ("admin", f"/p/{slug}/data/import/", {}),
        ("admin", f"/p/{slug}/retrain/", {}),
        ("admin", "/account/tokens/create/", {"name": "t", "scopes": ["read"]}),
        ("admin", f"/account/tokens/{world.admin_token.pk}/revoke/", {}),
    ]


def test_csrf_is_enforced_on_every_post(world):
    for role, path, data in post_pages(world):
        client = Client(enforce_csrf_checks=True)
        client.force_login(world.users[role])
        refused = client.post(path, data)
        assert refused.status_code == 403, (path, refused.status_code)
        client.get("/")  # sets the CSRF cookie
        token = client.cookies["csrftoken"].value
        accepted = client.post(path, data, headers={"X-CSRFToken": token})
        assert accepted.status_code != 403, (path, accepted.status_code)
    # The login form too, before anyone is logged in.
    client = Client(enforce_csrf_checks=True)
    assert client.post("/login/", {"username": "admin", "password": "admin"}).status_code == 403


# --- Escaping --------------------------------------------------------------------------------


def _active_markup(body: str, marker: str) -> list[str]:
    """Scripts holding `marker` and attributes whose value holds it, as an HTML parser sees the
    page (escaped text shown to people is neither)."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Parser(HTMLParser):
        in_script = False

        def handle_starttag(self, tag, attrs):
            self.in_script = tag == "script"
            found.extend(f"{tag}[{k}]" for k, v in attrs if v and marker in v)

        def handle_data(self, data):
            if self.in_script and marker in data:
                found.append("script")

    Parser().feed(body)
    return found


def test_text_pushed_through_the_api_is_escaped_on_every_page(world):
    slug = world.project.slug
    task = {
        "name": "evil_task",
        "type": "pairwise",
        "title": f"Title {SCRIPT}",
        "description": f"Describe {SCRIPT}",
        "context_fields": ["question", RESPONSE_A, RESPONSE_B],
        "output_fields": ["evaluation"],
        "labels": ["A", "B"],
    }
    line = {
        "task": task,
        "id": f"id-{SCRIPT}",
        "label": "A",
        "context": {"question": SCRIPT, RESPONSE_A: SCRIPT, RESPONSE_B: "fine"},
    }
    headers = {"Authorization": f"Bearer {world.secret('admin')}"}
    client = world.client("anonymous")
    pushed = client.post(
        f"/api/v1/projects/{slug}/items", {"examples": [line]}, "application/json", headers=headers
    )
    assert pushed.status_code == 200, pushed.content
    created = client.post(
        "/api/v1/projects",
        {"name": f"P {SCRIPT}", "slug": "evil"},
        "application/json",
        headers=headers,
    )
    assert created.status_code == 201
    evil = Item.objects.get(project=world.project, task__name="evil_task")
    # The rater sees only the evil item in the queue.
    Item.objects.filter(project=world.project).exclude(pk=evil.pk).delete()
    admin = world.client("admin")
    admin.post("/account/tokens/create/", {"name": f"tok {SCRIPT}", "scopes": ["read"]})
    pages = [
        world.client("rater").get(f"/p/{slug}/queue/"),
        admin.get(f"/p/{slug}/adjudicate/{evil.pk}/"),
        admin.get("/"),
        admin.get("/account/tokens/"),
    ]
    for response in pages:
        body = response.content.decode()
        assert response.status_code == 200
        assert "<script>window.__pwned" not in body
        # Rendered model text (Markdown) shows the markup as text; a browser's parser finds no
        # element or attribute of it.
        assert not _active_markup(body, "__pwned") and not _active_markup(body, "alert(1)")
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in pages[0].content.decode()
    # The API answers JSON: the text comes back as data, never as HTML.
    items = client.get(f"/api/v1/projects/{slug}/items", headers=headers)
    assert items["Content-Type"].startswith("application/json")
    assert items.json()["results"][0]["context"]["question"] == SCRIPT


# --- Login throttling --------------------------------------------------------------------


@override_settings(EMBER_LOGIN_MAX_FAILURES=3)
def test_login_is_throttled_after_repeated_failures(world):
    from django.core.cache import cache

    cache.clear()
    client = Client()
    for _ in range(3):
        assert client.post("/login/", {"username": "admin", "password": "wrong"}).status_code == 200
    blocked = client.post("/login/", {"username": "admin", "password": "admin"})
    assert blocked.status_code == 429
    cache.clear()
    assert client.post("/login/", {"username": "admin", "password": "admin"}).status_code == 302


# --- Secrets -----------------------------------------------------------------------------------


def _settings_value(module: str, env: dict) -> subprocess.CompletedProcess:
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    environment.update(env, DJANGO_SETTINGS_MODULE=module)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_secret_key_comes_from_the_environment_and_production_refuses_the_default():
    key = "k" * 50
    assert (
        _settings_value("webapp.config.settings.base", {"DJANGO_SECRET_KEY": key}).stdout.strip()
        == key
    )
    assert (
        _settings_value("webapp.config.settings.production", {"DJANGO_SECRET_KEY": key}).returncode
        == 0
    )
    missing = _settings_value("webapp.config.settings.production", {})
    assert missing.returncode != 0 and "DJANGO_SECRET_KEY" in missing.stderr
    default = _settings_value(
        "webapp.config.settings.production",
        {"DJANGO_SECRET_KEY": "ember-insecure-local-development-key"},
    )
    assert default.returncode != 0 and "ImproperlyConfigured" in default.stderr


SECRET_PATTERNS = [
    r"-----BEGIN (RSA |EC |OPENSSH |DSA )?PRIVATE KEY-----",
    r"AKIA[0-9A-Z]{16}",
    r"\bsk-[A-Za-z0-9]{32,}",
    r"\bghp_[A-Za-z0-9]{36}",
    r"\bxox[baprs]-[A-Za-z0-9-]{10,}",
    r"\bember_[0-9a-f]{12}_[A-Za-z0-9_-]{40,}",
    # The development default is named for what it is and refused by production settings.
    r"SECRET_KEY\s*=\s*['\"](?!ember-insecure-local-development-key)[^'\"]{20,}['\"]",
]


def test_no_secret_is_committed():
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    found = []
    for name in files:
        path = ROOT / name
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        text = path.read_text(errors="ignore")
        for pattern in SECRET_PATTERNS:
            if re.search(pattern, text):
                found.append((name, pattern))
    assert not found, found


# --- Imports: size limits and paths ------------------------------------------------------------


def _jsonl(n: int = 1) -> bytes:
    lines = []
    for i in range(n):
        context = {"question": f"{i}+1?", RESPONSE_A: str(i + 1), RESPONSE_B: "0"}
        task = ARITHMETIC.to_dict() if i == 0 else "demo_arithmetic"
        lines.append(json.dumps({"task": task, "id": f"up-{i}", "label": "A", "context": context}))
    return ("\n".join(lines) + "\n").encode()


def test_web_import_refuses_files_over_the_limit(world):
    before = Item.objects.count()
    with override_settings(EMBER_MAX_IMPORT_BYTES=100):
        upload = SimpleUploadedFile("big.jsonl", _jsonl(5), "application/jsonl")
        response = world.client("admin").post(
            f"/p/{world.project.slug}/data/import/", {"file": upload}
        )
    assert response.status_code == 200 and "over the limit" in response.content.decode()
    assert Item.objects.count() == before


def _multipart(filename: str, content: bytes) -> tuple[bytes, str]:
    """A raw multipart body, so the file name reaches the server exactly as an attacker sends it."""
    boundary = "EmberBoundary7d3f"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{filename}"\r\nContent-Type: application/jsonl\r\n\r\n'
    )
    body = head.encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_web_import_file_name_cannot_escape_the_temporary_folder(world, tmp_path):
    target = tmp_path / "escaped.jsonl"
    names = [f"../../../../../..{target}", str(target), "..", "../", "..\\..\\x.jsonl", ""]
    client = world.client("admin")
    for name in names:
        body, content_type = _multipart(name, _jsonl(1))
        response = client.generic(
            "POST", f"/p/{world.project.slug}/data/import/", body, content_type=content_type
        )
        assert response.status_code == 200, (name, response.status_code)
    assert not target.exists()
    # The well-formed uploads were imported from inside the temporary folder.
    assert Item.objects.filter(project=world.project, external_id="up-0").exists()


def test_api_push_limits(world):
    slug = world.project.slug
    headers = {"Authorization": f"Bearer {world.secret('admin')}"}
    client = world.client("anonymous")
    with override_settings(EMBER_API_MAX_ITEMS_PER_REQUEST=2):
        response = client.post(
            f"/api/v1/projects/{slug}/items", _jsonl(3), "application/x-ndjson", headers=headers
        )
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=200):
        response = client.post(
            f"/api/v1/projects/{slug}/items", _jsonl(5), "application/x-ndjson", headers=headers
        )
    assert response.status_code == 413
    bad = client.post(
        f"/api/v1/projects/{slug}/items",
        _jsonl(1) + b"{not json}\n",
        "application/x-ndjson",
        headers=headers,
    )
    assert bad.status_code == 422 and "line 2" in bad.json()["error"]["message"]
    ok = client.post(
        f"/api/v1/projects/{slug}/items", _jsonl(2), "application/x-ndjson", headers=headers
    )
    assert ok.status_code == 200 and ok.json()["created"] == 2


# --- Checkpoints: orbax and safetensors only, never pickle ------------------------------------


class _Bomb:
    def __reduce__(self):
        return (Path.touch, (Path(os.environ["EMBER_PICKLE_MARKER"]),))


def test_checkpoint_loader_never_unpickles(tmp_path, monkeypatch):
    from judging.inference import Judge

    marker = tmp_path / "pwned"
    monkeypatch.setenv("EMBER_PICKLE_MARKER", str(marker))
    folder = tmp_path / "upload"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    for name in ("pytorch_model.bin", "model.pkl", "params.pickle"):
        (folder / name).write_bytes(pickle.dumps(_Bomb()))
    with pytest.raises((FileNotFoundError, ValueError, OSError)):
        Judge.load(folder)
    assert not marker.exists()


def test_no_code_path_loads_pickle():
    unsafe = re.compile(
        r"pickle\.loads?\(|torch\.load\(|allow_pickle\s*=\s*True|joblib\.load|dill\.load"
        r"|cloudpickle|np\.load\(|numpy\.load\("
    )
    offenders = []
    for package in ("judging", "training", "evaluation", "webapp"):
        for path in (ROOT / package).rglob("*.py"):
            if unsafe.search(path.read_text()):
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, offenders
