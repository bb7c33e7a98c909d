"""Insight views: their numbers equal the reference packages' on the raw rows, a bounded number
of queries whatever the data size, filters, exports, access and bad input."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict

import krippendorff
import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from sklearn.metrics import cohen_kappa_score

from evaluation import metrics as M
from webapp.annotation.models import Annotation, Item, TaskDefinition
from webapp.autoraters.models import ModelJudgment
from webapp.insights.models import Rollup
from webapp.insights.rollup import rollup_refresh

from .conftest import analyst_of, build_world

pytestmark = pytest.mark.django_db


def _client(client, analyst):
    client.force_login(analyst)
    return client


def _raw(project, task_name):
    task = TaskDefinition.objects.get(project=project, name=task_name)
    labels = list(
        Annotation.objects.filter(item__task=task, is_current=True).values(
            "id", "item_id", "annotator_id", "label", "created_at"
        )
    )
    judgments = {
        (j["item_id"], j["version_id"]): j
        for j in ModelJudgment.objects.filter(item__task=task).values(
            "item_id", "version_id", "label", "valid", "confidence", "order_probabilities"
        )
    }
    items = {i.pk: i for i in Item.objects.filter(task=task)}
    return task, labels, judgments, items


def test_dashboard_numbers_equal_reference_packages(client, world, analyst):
    project, versions = world["project"], world["versions"]
    live = versions[1]
    response = _client(client, analyst).get(reverse("insights-dashboard", args=[project.slug]))
    assert response.status_code == 200
    data = response.context["data"]
    assert data["version"] == live
    for entry in data["per_task"]:
        task, labels, judgments, items = _raw(project, entry["task"].name)
        task_labels = list(task.labels)
        # humans vs autorater: every current label against the live version's verdict
        pairs = [(a["label"], judgments[(a["item_id"], live.pk)]) for a in labels]
        valid = [(h, j["label"]) for h, j in pairs if j["valid"]]
        hm = entry["human_model"]
        assert hm["kappa"]["value"] == pytest.approx(
            cohen_kappa_score([h for h, _ in valid], [p for _, p in valid], labels=task_labels)
        )
        assert hm["accuracy"]["value"] == pytest.approx(
            sum(j["valid"] and h == j["label"] for h, j in pairs) / len(pairs)
        )
        assert hm["accuracy"]["n"] == len(pairs)
        # Krippendorff's alpha over raters x items
        raters = sorted({a["annotator_id"] for a in labels})
        item_ids = sorted({a["item_id"] for a in labels})
        table = np.full((len(raters), len(item_ids)), np.nan)
        for a in labels:
            table[raters.index(a["annotator_id"]), item_ids.index(a["item_id"])] = (
                task_labels.index(a["label"])
            )
        assert entry["alpha"]["value"] == pytest.approx(
            krippendorff.alpha(
                reliability_data=table,
                level_of_measurement="nominal",
                value_domain=list(range(len(task_labels))),
            )
        )
        # Cohen's kappa, earlier label vs later label on the same item
        by_item = defaultdict(list)
        for a in labels:
            by_item[a["item_id"]].append(a)
        first, second = [], []
        for group in by_item.values():
            group.sort(key=lambda a: (a["created_at"], a["id"]))
            for i in range(len(group)):
                for j in range(i + 1, len(group)):
                    first.append(group[i]["label"])
                    second.append(group[j]["label"])
        assert entry["human_human"]["kappa"]["n"] == len(first)
        assert entry["human_human"]["kappa"]["value"] == pytest.approx(
            cohen_kappa_score(first, second, labels=task_labels)
        )
        low, high = hm["kappa"]["ci"]
        assert low <= hm["kappa"]["value"] <= high
    # calibration over every task: the live version against the reference label
    conf, correct = [], []
    for task_name in ("pairs", "topic"):
        task, labels, judgments, items = _raw(project, task_name)
        by_item = defaultdict(Counter)
        for a in labels:
            by_item[a["item_id"]][a["label"]] += 1
        for item_id, item in items.items():
            j = judgments[(item_id, live.pk)]
            counts = by_item[item_id].most_common()
            if item.gold_label:
                reference = item.gold_label
            elif counts and (len(counts) == 1 or counts[0][1] > counts[1][1]):
                reference = counts[0][0]
            else:
                continue
            if j["valid"]:
                conf.append(j["confidence"])
                correct.append(j["label"] == reference)
    expected = M.calibration(conf, correct)
    assert data["calibration"]["ece"] == pytest.approx(expected["ece"])
    assert [b["count"] for b in data["calibration"]["bins"]] == [
        b["count"] for b in expected["bins"]
    ]
    # swap consistency over the pairwise verdicts judged in both orders
    task, labels, judgments, items = _raw(project, "pairs")
    both = [
        j for (i, v), j in judgments.items() if v == live.pk and "ba" in j["order_probabilities"]
    ]
    picks = [
        tuple(
            max(j["order_probabilities"][o], key=j["order_probabilities"][o].get)
            for o in ("ab", "ba")
        )
        for j in both
    ]
    assert data["position"]["n"] == len(both)
    assert data["position"]["consistency"] == pytest.approx(
        sum(ab == ba for ab, ba in picks) / len(both)
    )
    assert data["position"]["prefer_first"] == pytest.approx(
        sum(p == ("A", "B") for p in picks) / len(both)
    )
    body = response.content.decode()
    assert body.count("<svg") >= 6  # pictures, not only tables
    assert "<script>alert(1)</script>" not in body


def test_rater_filter_is_this_rater_against_peers(client, world, analyst):
    project, rater = world["project"], world["raters"][1]
    url = reverse("insights-dashboard", args=[project.slug]) + f"?rater={rater.pk}"
    data = _client(client, analyst).get(url).context["data"]
    for entry in data["per_task"]:
        task, labels, judgments, items = _raw(project, entry["task"].name)
        mine = {a["item_id"]: a["label"] for a in labels if a["annotator_id"] == rater.pk}
        own, peer = [], []
        for a in labels:
            if a["annotator_id"] != rater.pk and a["item_id"] in mine:
                own.append(mine[a["item_id"]])
                peer.append(a["label"])
        assert entry["human_human"]["kappa"]["n"] == len(own)
        assert entry["human_human"]["kappa"]["value"] == pytest.approx(
            cohen_kappa_score(own, peer, labels=list(task.labels))
        )
        live = world["versions"][1].pk
        pairs = [
            (a["label"], judgments[(a["item_id"], live)])
            for a in labels
            if a["annotator_id"] == rater.pk
        ]
        assert entry["human_model"]["accuracy"]["n"] == len(pairs)


def test_dashboard_queries_do_not_grow_with_the_data(
    client, analyst, django_assert_max_num_queries
):
    small = build_world(seed=1, items_per_task=10, n_raters=3)
    big = build_world(seed=2, items_per_task=60, n_raters=6)
    analyst_of(analyst, small["project"])
    analyst_of(analyst, big["project"])
    client = _client(client, analyst)
    counts = []
    for world in (small, big):
        rollup_refresh(project=world["project"])
        url = reverse("insights-dashboard", args=[world["project"].slug])
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
    for name in ("insights-disagreements", "insights-raters", "insights-versions"):
        with django_assert_max_num_queries(16):
            assert client.get(reverse(name, args=[big["project"].slug])).status_code == 200
    with django_assert_max_num_queries(24):
        client.get(reverse("insights-dashboard", args=[big["project"].slug]))


def test_disagreements_confident_first_and_filters(client, world, analyst):
    project, live = world["project"], world["versions"][1]
    client = _client(client, analyst)
    url = reverse("insights-disagreements", args=[project.slug])
    rows = client.get(url).context["rows"]
    assert rows
    confidences = [r.confidence for r in rows]
    valid = [c for c in confidences if c is not None]
    assert valid == sorted(valid, reverse=True)
    assert confidences[: len(valid)] == valid  # invalid verdicts (no confidence) last
    for row in rows:
        labels = list(
            Annotation.objects.filter(item_id=row.item_id, is_current=True).values_list(
                "label", flat=True
            )
        )
        judgment = ModelJudgment.objects.get(item_id=row.item_id, version=live)
        assert (
            (not judgment.valid)
            or any(lbl != judgment.label for lbl in labels)
            or len(set(labels)) > 1
        )
    rater = world["raters"][2]
    filtered = client.get(url + f"?rater={rater.pk}&category=math&tag=ambiguous").context["rows"]
    for row in filtered:
        assert row.category == "math"
        assert Annotation.objects.filter(item_id=row.item_id, annotator=rater).exists()
        assert Annotation.objects.filter(
            item_id=row.item_id, disagreement_tag="ambiguous", is_current=True
        ).exists()
    humans = client.get(url + "?version=humans").context["rows"]
    assert humans and all(r.human_split and r.version_id is None for r in humans)
    export = client.get(url + "?export=csv")
    assert export["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert len(table) >= len(rows) and {"item_id", "autorater_label", "confidence"} <= set(table[0])
    lines = client.get(url + "?export=jsonl").content.decode().splitlines()
    assert json.loads(lines[0])["item_id"] == rows[0].item_id


def test_item_drill_down_shows_every_label_and_both_orders(client, world, analyst):
    project = world["project"]
    item = Item.objects.filter(project=project, task__name="pairs").first()
    response = _client(client, analyst).get(reverse("insights-item", args=[project.slug, item.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert len(response.context["current"]) == Annotation.objects.filter(item=item).count()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    valid = ModelJudgment.objects.filter(item=item, valid=True).count()
    assert body.count('data-testid="order-ba"') == valid


def test_version_comparison_matches_raw(client, world, analyst):
    project = world["project"]
    a, b = world["versions"]
    url = reverse("insights-versions", args=[project.slug]) + f"?a={a.pk}&b={b.pk}"
    comparison = _client(client, analyst).get(url).context["comparison"]
    heldout = Item.objects.filter(project=project, split="heldout")
    from webapp.insights.models import ItemSummary

    refs = dict(ItemSummary.objects.filter(project=project).values_list("item_id", "reference"))
    right = {a.pk: 0, b.pk: 0}
    scored = 0
    for item in heldout:
        if not refs[item.pk]:
            continue
        scored += 1
        for version in (a, b):
            j = ModelJudgment.objects.get(item=item, version=version)
            right[version.pk] += j.valid and j.label == refs[item.pk]
    assert comparison["scored"] == scored
    assert comparison["accuracy_a"]["value"] == pytest.approx(right[a.pk] / scored)
    assert comparison["accuracy_b"]["value"] == pytest.approx(right[b.pk] / scored)
    assert comparison["difference"]["value"] == pytest.approx((right[b.pk] - right[a.pk]) / scored)
    for row in comparison["differ"]:
        assert row.label != row.label_b


def _raw_version_pairs(project, a, b, task=None):
    """From the raw verdicts: (paired counts, [(label a, label b)], differing items in page
    order) over the held-out items both versions judged."""
    from webapp.insights.models import ItemSummary

    refs = dict(ItemSummary.objects.filter(project=project).values_list("item_id", "reference"))
    heldout = Item.objects.filter(project=project, split="heldout")
    if task is not None:
        heldout = heldout.filter(task=task)
    verdicts = {
        (j.item_id, j.version_id): j
        for j in ModelJudgment.objects.filter(item__in=heldout, version__in=[a, b])
    }
    counts = Counter()
    pairs, differ = [], []
    for item in heldout:
        ja, jb = verdicts.get((item.pk, a.pk)), verdicts.get((item.pk, b.pk))
        if ja is None or jb is None:
            continue
        label_a = ja.label if ja.valid else ""
        label_b = jb.label if jb.valid else ""
        pairs.append((label_a, label_b))
        if refs[item.pk]:
            right = (ja.valid and label_a == refs[item.pk], jb.valid and label_b == refs[item.pk])
            counts[
                {
                    (True, True): "both_right",
                    (True, False): "only_a",
                    (False, True): "only_b",
                    (False, False): "both_wrong",
                }[right]
            ] += 1
        if label_a != label_b:
            confidences = [c for c in (ja.confidence, jb.confidence) if c is not None]
            top = max(confidences) if confidences else None
            differ.append((top is None, -(top or 0), item.pk, label_a, label_b))
    return counts, pairs, [(d[2], d[3], d[4]) for d in sorted(differ)]


def test_version_pair_summary_equals_raw_pairs_both_ways_and_pages(
    client, world, analyst, monkeypatch
):
    """The rollup's paired summary (VersionPairCell) and differing items (VersionDiffRow) give
    the same numbers as pairing the raw verdicts, with either version as A, with a task
    filter, and the pages of differing items together list every one in order."""
    from webapp.insights import selectors

    project = world["project"]
    client = _client(client, analyst)
    client.get(reverse("insights-dashboard", args=[project.slug]))  # computes the rollup
    pairs_task = TaskDefinition.objects.get(project=project, name="pairs")
    a, b = world["versions"]
    for first, second in ((a, b), (b, a)):
        for task in (None, pairs_task):
            counts, pairs, differ = _raw_version_pairs(project, first, second, task)
            filters = selectors.Filters(task=task.pk if task else None)
            out = selectors.version_comparison(project, first, second, filters, 0, limit=1000)
            assert out["n"] == len(pairs)
            assert out["paired"] == {
                k: counts[k] for k in ("both_right", "only_a", "only_b", "both_wrong")
            }
            labels = sorted({x for pair in pairs for x in pair} - {""})
            valid = [(x, y) for x, y in pairs if x and y]
            assert out["agreement"]["kappa"]["value"] == pytest.approx(
                cohen_kappa_score([x for x, _ in valid], [y for _, y in valid], labels=labels)
            )
            assert out["agreement"]["accuracy"]["value"] == pytest.approx(
                sum(x == y != "" for x, y in pairs) / len(pairs)  # both invalid: not agreeing
            )
            got = [(r.item_id, r.label, r.label_b) for r in out["differ"]]
            assert got == differ and differ
    # a version against itself: every item agrees, nothing differs
    same = selectors.version_comparison(project, a, a, selectors.Filters(), 0)
    assert same["paired"]["only_a"] == same["paired"]["only_b"] == 0 and same["differ"] == []
    # the page walks the differing items PAGE at a time, with next/previous links
    _, _, differ = _raw_version_pairs(project, a, b)
    monkeypatch.setattr(selectors, "PAGE", 5)
    assert len(differ) > 5
    url = reverse("insights-versions", args=[project.slug]) + f"?a={a.pk}&b={b.pk}"
    seen, offset = [], 0
    while True:
        response = client.get(url + f"&offset={offset}")
        rows = response.context["differ"]
        assert len(rows) <= 5
        seen += [(r.item_id, r.label, r.label_b) for r in rows]
        if response.context["next_offset"] is None:
            break
        assert 'data-testid="next-page"' in response.content.decode()
        offset = response.context["next_offset"]
    assert seen == differ
    exported = list(csv.DictReader(io.StringIO(client.get(url + "&export=csv").content.decode())))
    assert [int(r["item_id"]) for r in exported] == [d[0] for d in differ]


def test_rater_quality_flags_the_noisy_rater(client, analyst):
    world = build_world(seed=3, items_per_task=80, n_raters=8)
    analyst_of(analyst, world["project"])
    rows = (
        _client(client, analyst)
        .get(reverse("insights-raters", args=[world["project"].slug]))
        .context["rows"]
    )
    noisy = world["raters"][0].username
    by_name = {r["rater"]: r for r in rows}
    assert any("peers" in flag for flag in by_name[noisy]["flags"])
    assert by_name[noisy]["peers"]["value"] < min(
        r["peers"]["value"] for name, r in by_name.items() if name != noisy
    )


def test_new_labels_recompute_the_rollup(client, world, analyst):
    project = world["project"]
    client = _client(client, analyst)
    url = reverse("insights-dashboard", args=[project.slug])
    client.get(url)
    before = Rollup.objects.get(project=project).n_labels
    item = Item.objects.filter(project=project).first()
    user = get_user_model().objects.create_user("late", password="pw-late-12345")
    Annotation.objects.create(item=item, annotator=user, label="A", submission_key="late-1")
    client.get(url)
    assert Rollup.objects.get(project=project).n_labels == before + 1


def test_access_and_bad_input(client, world, analyst):
    project = world["project"]
    rater = world["raters"][0]
    client.force_login(rater)
    assert client.get(reverse("insights-dashboard", args=[project.slug])).status_code == 403
    client.force_login(analyst)
    url = reverse("insights-dashboard", args=[project.slug])
    assert client.get(url + "?rater=abc").status_code == 400
    assert client.get(url + "?export=xlsx").status_code == 400
    assert client.get(url + "?version=999999").status_code == 400
    dis = reverse("insights-disagreements", args=[project.slug])
    assert client.get(dis + "?tag=nonsense").status_code == 400
    assert client.get(reverse("insights-item", args=[project.slug, 999999])).status_code == 404
