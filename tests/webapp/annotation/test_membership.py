"""Per-project roles (Membership): who sees which project, and the migration that carried the
former global groups over to every existing project."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from webapp.annotation.models import Membership, Project
from webapp.annotation.selectors import project_list_for_user, project_role, user_has_role
from webapp.annotation.services import project_create

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("webapp.annotation.migrations.0009_membership_roles")


@pytest.fixture
def two_projects():
    make = get_user_model().objects.create_user
    people = {name: make(name, password="pw") for name in ("ra", "an", "ad", "rb")}
    a = Project.objects.create(name="A", slug="a")
    b = Project.objects.create(name="B", slug="b")
    a.raters.add(people["ra"])
    a.raters.add(people["an"], through_defaults={"role": "analyst"})
    a.raters.add(people["ad"], through_defaults={"role": "admin"})
    b.raters.add(people["rb"])
    return a, b, people


def test_each_member_sees_only_their_projects(two_projects):
    a, b, people = two_projects
    for name in ("ra", "an", "ad"):
        assert list(project_list_for_user(people[name])) == [a]
        assert project_role(people[name], b) is None
    assert list(project_list_for_user(people["rb"])) == [b]
    boss = get_user_model().objects.create_superuser("boss", password="pw")
    assert set(project_list_for_user(boss)) == {a, b} and project_role(boss, b) == "admin"


def test_roles_include_the_ones_before(two_projects):
    a, _, people = two_projects
    held = {
        name: [user_has_role(people[name], a, role) for role in ("rater", "analyst", "admin")]
        for name in ("ra", "an", "ad", "rb")
    }
    assert held == {
        "ra": [True, False, False],
        "an": [True, True, False],
        "ad": [True, True, True],
        "rb": [False, False, False],
    }


def test_an_analyst_of_one_project_gets_403_on_the_other(two_projects):
    a, b, people = two_projects
    client = Client()
    client.force_login(people["an"])
    assert client.get(reverse("insights-dashboard", args=[a.slug])).status_code == 200
    for name in ("insights-dashboard", "queue", "adjudication"):
        assert client.get(reverse(name, args=[b.slug])).status_code == 403, name
    assert client.get(reverse("queue", args=["no-such-project"])).status_code == 404
    home = client.get("/").content.decode()
    assert ">A<" in home and ">B<" not in home


def test_the_project_creator_administers_it():
    creator = get_user_model().objects.create_user("maker", password="pw")
    project = project_create(name="Mine", slug="mine", actor=creator)
    assert project_role(creator, project) == "admin"


def test_the_migration_carries_global_groups_to_every_existing_project():
    make = get_user_model().objects.create_user
    rater, analyst, admin, both = (make(n, password="pw") for n in ("r", "n", "d", "b"))
    analyst.groups.add(Group.objects.get_or_create(name="analyst")[0])
    admin.groups.add(Group.objects.get_or_create(name="admin")[0])
    both.groups.add(Group.objects.get_or_create(name="analyst")[0])
    first = Project.objects.create(name="First", slug="first")
    Project.objects.create(name="Second", slug="second")
    first.raters.add(rater, both)  # the old many-to-many's rows become raters
    MIGRATION.groups_to_roles(apps, None)
    roles = {
        (m.project.slug, m.user.username): m.role
        for m in Membership.objects.select_related("project", "user")
    }
    assert roles == {
        ("first", "r"): "rater",
        ("first", "b"): "analyst",  # a rater in the analyst group keeps the higher role
        ("second", "b"): "analyst",
        ("first", "n"): "analyst",
        ("second", "n"): "analyst",
        ("first", "d"): "admin",
        ("second", "d"): "admin",
    }
