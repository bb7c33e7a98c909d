"""The people page: add a user, change a role, remove a member, invite with a one-time link;
every change audited; a project keeps an admin; only the project's admins manage people."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from webapp.annotation.models import Membership, Project
from webapp.audit.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    make = get_user_model().objects.create_user
    boss, ann, ana = (make(n, password="pw") for n in ("boss", "ann", "ana"))
    project = Project.objects.create(name="Team", slug="team")
    project.raters.add(boss, through_defaults={"role": "admin"})
    client = Client()
    client.force_login(boss)
    return project, client, {"boss": boss, "ann": ann, "ana": ana}


def _role(project, user) -> str | None:
    return (
        Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    )


def test_add_change_role_remove_each_audited(team):
    project, client, people = team
    slug = project.slug
    assert (
        client.post(
            reverse("member-add", args=[slug]), {"username": "ann", "role": "rater"}
        ).status_code
        == 302
    )
    assert (
        client.post(
            reverse("member-add", args=[slug]), {"username": "ana", "role": "analyst"}
        ).status_code
        == 302
    )
    assert _role(project, people["ann"]) == "rater" and _role(project, people["ana"]) == "analyst"
    page = client.get(reverse("people", args=[slug])).content.decode()
    assert 'data-testid="member-ann"' in page and 'data-testid="member-ana"' in page
    client.post(reverse("member-role", args=[slug, people["ann"].pk]), {"role": "analyst"})
    assert _role(project, people["ann"]) == "analyst"
    client.post(reverse("member-remove", args=[slug, people["ana"].pk]))
    assert _role(project, people["ana"]) is None
    audit = list(AuditLog.objects.order_by("id").values_list("action", "username", "summary"))
    assert audit == [
        ("member.add", "boss", {"user": "ann", "role": "rater"}),
        ("member.add", "boss", {"user": "ana", "role": "analyst"}),
        ("member.role", "boss", {"user": "ann", "from": "rater", "to": "analyst"}),
        ("member.remove", "boss", {"user": "ana", "role": "analyst"}),
    ]


def test_bad_input_is_refused_with_a_reason(team):
    project, client, people = team
    slug = project.slug
    unknown = client.post(
        reverse("member-add", args=[slug]), {"username": "nobody", "role": "rater"}
    )
    assert unknown.status_code == 400 and "No user named" in unknown.content.decode()
    role = client.post(reverse("member-add", args=[slug]), {"username": "ann", "role": "owner"})
    assert role.status_code == 400 and "Unknown role" in role.content.decode()
    # The only admin can neither step down nor be removed.
    boss = people["boss"].pk
    demote = client.post(reverse("member-role", args=[slug, boss]), {"role": "rater"})
    assert demote.status_code == 400 and "at least one admin" in demote.content.decode()
    remove = client.post(reverse("member-remove", args=[slug, boss]))
    assert remove.status_code == 400 and _role(project, people["boss"]) == "admin"
    assert not AuditLog.objects.exists()


def test_an_invitation_link_works_once(team):
    project, client, _ = team
    made = client.post(
        reverse("invite-create", args=[project.slug]), {"role": "analyst", "note": "Zoe"}
    )
    assert made.status_code == 200
    url = re.search(r'value="(http[^"]+/invite/[^"/]+/)"', made.content.decode()).group(1)
    assert "Zoe" in made.content.decode()
    path = url.split("testserver", 1)[1]
    guest = Client()
    assert guest.get(path).status_code == 200
    weak = guest.post(path, {"username": "zoe", "password": "123", "password_again": "123"})
    assert weak.status_code == 400 and "invite-error" in weak.content.decode()
    joined = guest.post(
        path, {"username": "zoe", "password": "a-long-pass-9x", "password_again": "a-long-pass-9x"}
    )
    assert joined.status_code == 302
    zoe = get_user_model().objects.get(username="zoe")
    assert _role(project, zoe) == "analyst"
    assert guest.get(reverse("insights-dashboard", args=[project.slug])).status_code == 200
    assert Client().get(path).status_code == 404  # used
    actions = list(AuditLog.objects.order_by("id").values_list("action", "username"))
    assert actions == [("invite.create", "boss"), ("invite.accept", "zoe")]


def test_only_the_projects_admins_manage_people(team):
    project, _, people = team
    other = Project.objects.create(name="Elsewhere", slug="elsewhere")
    other.raters.add(people["ann"], through_defaults={"role": "admin"})
    project.raters.add(people["ana"], through_defaults={"role": "analyst"})
    for name in ("ann", "ana"):
        client = Client()
        client.force_login(people[name])
        assert client.get(reverse("people", args=[project.slug])).status_code == 403
        added = client.post(
            reverse("member-add", args=[project.slug]), {"username": name, "role": "admin"}
        )
        assert added.status_code == 403
    assert _role(project, people["ann"]) is None and _role(project, people["ana"]) == "analyst"
