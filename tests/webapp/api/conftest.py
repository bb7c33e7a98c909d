"""A small world for the API and security tests: one project with a rater, an analyst and an
admin (a superuser); a rater of another project (outsider) and an admin of that other project
(other_admin, no role in the first); a live (promoted) version with a verdict; a queued run."""

from __future__ import annotations

import dataclasses

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from webapp.annotation.demo import demo_project_ensure
from webapp.annotation.models import Annotation, Item, Project
from webapp.api.models import ApiToken, JudgeJob
from webapp.api.services import token_create
from webapp.autoraters.models import AutoraterVersion, ModelJudgment
from webapp.retraining.models import TrainingRun

ROLES = ("anonymous", "rater", "analyst", "admin", "outsider", "other_admin")


@dataclasses.dataclass
class World:
    project: Project
    other: Project
    users: dict
    items: list[Item]
    version: AutoraterVersion
    run: TrainingRun
    judge_job: JudgeJob
    admin_token: ApiToken

    def secret(self, role: str, scopes=None) -> str | None:
        """A fresh token for the role with the widest scopes it may hold (or the given ones)."""
        if role == "anonymous":
            return None
        if scopes is None:
            scopes = ["admin"] if role in ("admin", "other_admin") else ["write"]
        return token_create(user=self.users[role], name=f"{role}-token", scopes=scopes)[1]

    def client(self, role: str, **kwargs) -> Client:
        client = Client(**kwargs)
        if role != "anonymous":
            client.force_login(self.users[role])
        return client


@pytest.fixture
def world(db) -> World:
    project = demo_project_ensure(n_per_task=3)
    users_model = get_user_model()
    analyst = users_model.objects.create_user("analyst", password="analyst-pass")
    project.raters.add(analyst, through_defaults={"role": "analyst"})
    outsider = users_model.objects.create_user("outsider", password="outsider-pass")
    other_admin = users_model.objects.create_user("other-admin", password="other-admin-pass")
    other = Project.objects.create(name="Other project", slug="other")
    other.raters.add(outsider)
    other.raters.add(other_admin, through_defaults={"role": "admin"})
    users = {
        "rater": users_model.objects.get(username="rater"),
        "analyst": analyst,
        "admin": users_model.objects.get(username="admin"),
        "outsider": outsider,
        "other_admin": other_admin,
    }
    items = list(Item.objects.filter(project=project).order_by("pk"))
    for role in ("rater", "admin"):
        Annotation.objects.create(
            item=items[0], annotator=users[role], label="A", submission_key=f"seed-{role}"
        )
    version = AutoraterVersion.objects.create(
        project=project,
        number=1,
        status=AutoraterVersion.Status.PROMOTED,
        checkpoint_dir="/nonexistent/checkpoint",
        snapshot_hash="0" * 64,
    )
    ModelJudgment.objects.create(
        item=items[0],
        version=version,
        label="A",
        confidence=0.9,
        probabilities={"A": 0.9, "B": 0.1},
        format_version="test",
    )
    run = TrainingRun.objects.create(project=project, trigger="manual", preset="smoke")
    judge_job = JudgeJob.objects.create(project=project, version=version, item_ids=[items[0].pk])
    admin_token, _ = token_create(user=users["admin"], name="admins", scopes=["read"])
    return World(project, other, users, items, version, run, judge_job, admin_token)
