"""End to end through the API with a real worker: a token pushes items, starts a training
job, waits for it, reads the autorater's verdicts and asks the live autorater for more."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from judging.demo_tasks import DEMO_TASKS, generate_demo_examples
from tests.conftest import wait_for_idle_worker, wait_until
from webapp.api.services import token_create

pytestmark = pytest.mark.django_db(transaction=True)


def _lines(n_per_task: int) -> list[dict]:
    tasks = {task.name: task for task in DEMO_TASKS}
    seen: set[str] = set()
    lines = []
    for example in generate_demo_examples(n_per_task, seed=7):
        line = example.to_dict()
        if example.task not in seen:
            line["task"] = tasks[example.task].to_dict()
            seen.add(example.task)
        lines.append(line)
    return lines


def test_a_token_pushes_items_trains_and_reads_verdicts(celery_worker):
    admin = get_user_model().objects.create_superuser("pipeline-admin", password="x" * 12)
    _, secret = token_create(user=admin, name="pipeline", scopes=["admin"])
    client = Client(headers={"Authorization": f"Bearer {secret}"})

    def call(method, path, body=None, status=200):
        kwargs = {"data": json.dumps(body), "content_type": "application/json"} if body else {}
        response = getattr(client, method)(f"/api/v1{path}", **kwargs)
        assert response.status_code == status, response.content[:500]
        return response.json()

    try:
        project = call("post", "/projects", {"name": "Pipeline"}, status=201)
        slug = project["slug"]
        lines = _lines(30)
        pushed = call("post", f"/projects/{slug}/items", {"examples": lines, "heldout_percent": 25})
        assert pushed["created"] == len(lines) and pushed["skipped"] == 0
        again = call("post", f"/projects/{slug}/items", {"examples": lines[:5]})
        assert again == {"created": 0, "skipped": 5, "per_task": again["per_task"]}

        job = call("post", f"/projects/{slug}/jobs", status=202)
        # The worker may already have taken it by the time the response is written.
        assert job["status"] in ("queued", "running") and job["kind"] == "training"

        def finished():
            state = call("get", f"/jobs/{job['id']}")
            return state if state["status"] in {"succeeded", "failed", "cancelled"} else None

        done = wait_until(finished, timeout=400, interval=1.0, what="the training job")
        assert done["status"] == "succeeded", done["error"]
        assert done["version"] == 1 and done["step"] == done["total_steps"] > 0
        versions = call("get", f"/projects/{slug}/versions")["results"]
        assert [(v["number"], v["status"]) for v in versions] == [(1, "promoted")]

        # Promotion queues judging of every item: read the verdicts page by page.
        def all_judged():
            verdicts, cursor = [], None
            while True:
                query = f"?limit=50&cursor={cursor}" if cursor else "?limit=50"
                page = call("get", f"/projects/{slug}/judgments/autorater{query}")
                verdicts += page["results"]
                cursor = page["next_cursor"]
                if cursor is None:
                    return verdicts if len(verdicts) == len(lines) else None

        verdicts = wait_until(all_judged, timeout=300, interval=1.0, what="autorater verdicts")
        assert {v["version"] for v in verdicts} == {1}
        assert all(v["valid"] and v["label"] in {"A", "B"} for v in verdicts)
        assert len({v["item_id"] for v in verdicts}) == len(lines)

        # Synchronous verdicts: stored items by id, and examples Ember has not stored.
        item_ids = [v["item_id"] for v in verdicts[:3]]
        now = call("post", f"/projects/{slug}/judge", {"item_ids": item_ids})
        assert [v["item_id"] for v in now["verdicts"]] == item_ids and now["version"] == 1
        fresh = [
            {
                **lines[1],
                "task": lines[1]["task"]["name"]
                if isinstance(lines[1]["task"], dict)
                else lines[1]["task"],
                "id": "not-stored",
            }
        ]
        inline = call("post", f"/projects/{slug}/judge", {"examples": fresh})
        verdict = inline["verdicts"][0]
        assert verdict["valid"] and verdict["label"] in {"A", "B"}
        assert abs(sum(verdict["probabilities"].values()) - 1.0) < 1e-3

        # A larger batch becomes a judge job (here: more than 2 items).
        with override_settings(EMBER_API_JUDGE_SYNC_MAX=2):
            queued = call("post", f"/projects/{slug}/judge", {"item_ids": item_ids}, status=202)
        assert queued["total"] == 3
        status = call("get", f"/judge-jobs/{queued['id']}")
        assert status["status"] == "done" and status["judged"] == 3  # already judged by v1
    finally:
        wait_for_idle_worker()
