"""Uncertainty-first routing: the priority is right for any label count, disagreeing orders come
first, and a verdict the autorater could not give never outranks a judged item."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from judging.task_format import RESPONSE_A, RESPONSE_B, Example
from tests.factories import classification_task, open_ended_task, pairwise_task, pointwise_task
from webapp.annotation.models import Item, Project
from webapp.annotation.rater_services import assignment_claim_next
from webapp.annotation.routing import judgment_priority, route_priorities_set, uncertainty
from webapp.annotation.services import items_create, task_definition_upsert
from webapp.autoraters.models import AutoraterVersion, ModelJudgment

FIVE_UNSURE = {label: 0.2 for label in "12345"}  # top 0.2: every label equally likely
FIVE_HALF = {"1": 0.5, "2": 0.125, "3": 0.125, "4": 0.125, "5": 0.125}  # top 0.5
TWO_SURE = {"A": 0.9, "B": 0.1}
TWO_COIN = {"A": 0.5, "B": 0.5}


def _priority(probabilities, consistent=True, valid=True) -> float:
    return judgment_priority(probabilities=probabilities, consistent=consistent, valid=valid)


def test_uncertainty_is_normalised_entropy_for_any_label_count():
    assert uncertainty(FIVE_UNSURE) == pytest.approx(1.0)
    assert uncertainty(TWO_COIN) == pytest.approx(1.0)
    assert uncertainty({"A": 1.0, "B": 0.0, "tie": 0.0}) == pytest.approx(0.0)
    assert 0.0 < uncertainty(TWO_SURE) < uncertainty(FIVE_HALF) < 1.0
    assert uncertainty({"only": 1.0}) == 0.0


def test_a_five_class_coin_flip_ranks_above_a_five_class_half_and_a_sure_pair():
    # The old 1 - |top - 0.5| put the five-way 0.2 (maximally unsure) below both.
    assert _priority(FIVE_UNSURE) > _priority(FIVE_HALF)
    assert _priority(FIVE_UNSURE) > _priority(TWO_SURE)


def test_a_two_class_coin_flip_ranks_above_a_sure_one():
    assert _priority(TWO_COIN) > _priority(TWO_SURE)
    assert _priority({"A": 0.1, "B": 0.9}) == pytest.approx(_priority(TWO_SURE))


def test_disagreeing_orders_rank_above_every_consistent_verdict():
    # Even a sure verdict whose orders disagree beats the most unsure consistent one.
    disagree = _priority({"A": 0.99, "B": 0.01}, consistent=False)
    for consistent in (FIVE_UNSURE, FIVE_HALF, TWO_SURE, TWO_COIN):
        assert disagree > _priority(consistent)
        assert disagree > _priority(consistent, consistent=None)  # single-order tasks


def test_a_verdict_the_autorater_could_not_give_never_outranks_a_judged_one():
    invalid = _priority(TWO_COIN, consistent=False, valid=False)  # its answer did not parse
    free_text = _priority({}, consistent=None)  # no probabilities (open-ended)
    sure = _priority({"A": 0.999, "B": 0.001})
    for unusable in (invalid, free_text):
        assert unusable < _priority(TWO_COIN)
        assert unusable < sure
        assert unusable == Item._meta.get_field("route_priority").default  # as never judged


@pytest.mark.django_db
def test_claims_follow_the_priorities_end_to_end():
    project = Project.objects.create(
        name="Routing", slug="routing", routing=Project.Routing.UNCERTAINTY_FIRST
    )
    pairs, likert = pairwise_task(labels=("A", "B")), pointwise_task()
    safety, critique = classification_task(), open_ended_task()
    definitions = {
        task.name: task_definition_upsert(project=project, task=task)
        for task in (pairs, likert, safety, critique)
    }

    def item(task, name: str) -> Item:
        context = (
            {"question": name, RESPONSE_A: "a", RESPONSE_B: "b"}
            if task is pairs
            else {"text": name}
        )
        example = Example(task=task.name, id=name, context=context, label=None)
        items_create(project=project, definition=definitions[task.name], examples=[example])
        return Item.objects.get(project=project, external_id=name)

    # Created in an order where import order alone would get every check wrong.
    invalid = item(safety, "invalid")
    open_ended = item(critique, "open-ended")
    unjudged = item(likert, "unjudged")
    five_half = item(likert, "five-half")
    two_sure = item(pairs, "two-sure")
    five_unsure = item(likert, "five-unsure")
    disagree = item(pairs, "disagree")

    version = AutoraterVersion.objects.create(
        project=project,
        number=1,
        status=AutoraterVersion.Status.PROMOTED,
        checkpoint_dir="/nonexistent",
        snapshot_hash="x",
    )
    verdicts = [
        (invalid, {"safe": 0.5, "unsafe": 0.5}, None, False),
        (open_ended, {}, None, True),
        (five_half, FIVE_HALF, None, True),
        (two_sure, TWO_SURE, True, True),
        (five_unsure, FIVE_UNSURE, None, True),
        (disagree, TWO_SURE, False, True),
    ]
    judgments = ModelJudgment.objects.bulk_create(
        ModelJudgment(
            item=judged,
            version=version,
            label=max(probabilities, key=probabilities.get) if probabilities else "",
            confidence=max(probabilities.values(), default=0.0),
            probabilities=probabilities,
            consistent=consistent,
            valid=valid,
            format_version="x",
        )
        for judged, probabilities, consistent, valid in verdicts
    )
    assert route_priorities_set(judgments) == 6

    # One rater per item: each claim holds its item, so the next rater gets the next one.
    make = get_user_model().objects.create_user
    order = []
    for n in range(8):
        claimed = assignment_claim_next(project=project, rater=make(f"r{n}", password="pw"))
        order.append(claimed.external_id if claimed is not None else None)
    assert order == [
        "disagree",
        "five-unsure",
        "five-half",
        "two-sure",
        # The autorater could not judge these two: with the never judged, in import order.
        "invalid",
        "open-ended",
        "unjudged",
        None,
    ]
    unjudged.refresh_from_db()
    assert unjudged.route_priority == 0.0
