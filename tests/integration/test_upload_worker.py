"""A large upload is imported by a real Celery worker while the mapping page polls its progress;
all or nothing, audited once."""

import time

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import classification_task
from webapp.annotation.models import Item, Project
from webapp.annotation.project_services import rubric_create
from webapp.audit.models import AuditLog

pytestmark = pytest.mark.django_db(transaction=True)

ROWS = 4500  # over two transfer.CHUNKs of 2000: progress is reported between chunks


def _poll(client, url: str, timeout: float = 180.0) -> list[str]:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(url).content.decode()
        state = body.split('data-state="', 1)[1].split('"', 1)[0]
        seen.append(state)
        if state in ("done", "failed"):
            return seen + [body]
        time.sleep(0.2)
    raise AssertionError(f"the upload did not finish in {timeout} s: {seen[-5:]}")


def test_a_large_upload_is_imported_by_a_worker(client, celery_worker, settings):
    settings.EMBER_UPLOAD_BACKGROUND_ROWS = 1000
    client.force_login(get_user_model().objects.create_superuser("boss", password="pw"))
    project = Project.objects.create(name="Big", slug="big")
    definition = rubric_create(project=project, task=classification_task("safety"))
    rows = "".join(f"text number {i},{'safe' if i % 2 else 'unsafe'},r{i}\n" for i in range(ROWS))
    upload = SimpleUploadedFile("big.csv", ("text,label,id\n" + rows).encode())
    response = client.post(
        reverse("upload", args=[project.slug]), {"task": definition.pk, "file": upload}
    )
    mapping_url = response.url
    page = client.post(
        mapping_url,
        {"task": definition.pk, "map:text": "text", "map_label": "label", "map_id": "id"},
    ).content.decode()
    assert 'data-testid="upload-progress"' in page and 'data-state="queued"' in page
    assert 'hx-trigger="every 1s"' in page
    token = mapping_url.split("/upload/", 1)[1].split("/", 1)[0]
    seen = _poll(client, reverse("upload-progress", args=[project.slug, token]))
    *states, final = seen
    assert states[-1] == "done", final
    assert f"Imported <strong>{ROWS}</strong> new items" in final
    assert "hx-trigger" not in final  # the page stops polling
    assert Item.objects.filter(task=definition).count() == ROWS
    assert set(Item.objects.values_list("gold_label", flat=True)) == {"safe", "unsafe"}
    assert AuditLog.objects.filter(action="items.create").count() == 1
    # Another project's admin page cannot read this upload's progress.
    other = Project.objects.create(name="Other", slug="other")
    assert client.get(reverse("upload-progress", args=[other.slug, token])).status_code == 404
