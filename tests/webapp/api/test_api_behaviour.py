"""API behaviour: cursor pagination, filters, error bodies, judge without a usable model."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def call(world):
    headers = {"Authorization": f"Bearer {world.secret('admin')}"}
    client = world.client("anonymous")

    def get(path, status=200, method="get", **kwargs):
        response = getattr(client, method)(f"/api/v1{path}", headers=headers, **kwargs)
        assert response.status_code == status, response.content[:300]
        return response.json()

    return get


def test_cursor_pagination_walks_every_item_once(world, call):
    slug, seen, cursor = world.project.slug, [], None
    while True:
        page = call(f"/projects/{slug}/items?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert len(page["results"]) <= 2
        seen += [item["id"] for item in page["results"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [item.pk for item in world.items]
    bad = call(f"/projects/{slug}/items?cursor=bm9wZQ", status=400)
    assert bad["error"]["code"] == "bad_cursor"
    assert call(f"/projects/{slug}/items?limit=0", status=422)["error"]["details"]


def test_filters(world, call):
    slug, first = world.project.slug, world.items[0]
    by_id = call(f"/projects/{slug}/items?external_id={first.external_id}")["results"]
    assert [item["id"] for item in by_id] == [first.pk]
    heldout = call(f"/projects/{slug}/items?split=heldout&limit=500")["results"]
    assert all(item["split"] == "heldout" for item in heldout)
    human = call(f"/projects/{slug}/judgments/human?annotator=rater")["results"]
    assert [(h["item_id"], h["annotator"], h["label"]) for h in human] == [(first.pk, "rater", "A")]
    assert call(f"/projects/{slug}/judgments/autorater?version=7", status=404)["error"]["message"]


def test_judge_answers_503_when_the_live_model_cannot_be_loaded(world, call):
    slug = world.project.slug
    unjudged = world.items[1].pk
    body = call(
        f"/projects/{slug}/judge",
        status=503,
        method="post",
        data={"item_ids": [unjudged]},
        content_type="application/json",
    )
    assert body["error"]["code"] == "autorater_unavailable"
    assert call(
        f"/projects/{slug}/judge",
        status=404,
        method="post",
        data={"item_ids": [10**12]},
        content_type="application/json",
    )["error"]["message"].startswith("Not items of this project")


def test_text_postgres_cannot_store_is_refused_with_where_it_is(world, call):
    # Found by the schemathesis run: a NUL in a project's description was a 500.
    body = {"name": "P2", "slug": "p2", "description": "bad\u0000text", "raters_per_item": 1}
    error = call(
        "/projects", status=422, method="post", data=body, content_type="application/json"
    )["error"]
    assert "body.description" in error["message"]
    slug = world.project.slug
    error = call(f"/projects/{slug}/items?external_id=x%00y", status=422)["error"]
    assert "query.external_id" in error["message"]
    assert call(f"/projects/{slug}/items?external_id=fine")["results"] == []
