import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from judging.task_format import RESPONSE_A, RESPONSE_B, Example
from webapp.annotation.demo import demo_project_ensure
from webapp.annotation.models import Annotation, Assignment, Item, Project
from webapp.annotation.rater_services import (
    LABEL_NOT_IN_TASK,
    annotation_submit,
    assignment_claim_next,
)
from webapp.annotation.routing import judgment_priority, route_priorities_set
from webapp.annotation.services import items_create, project_save
from webapp.autoraters.models import AutoraterVersion, ModelJudgment
from webapp.autoraters.services import judge_items

pytestmark = pytest.mark.django_db


@pytest.fixture
def project() -> Project:
    return demo_project_ensure(n_per_task=20)


@pytest.fixture
def rater():
    return get_user_model().objects.create_user("rater2", password="pw")


def test_demo_project_is_flame_formatted_and_idempotent(project):
    count = project.items.count()
    assert 30 <= count <= 40
    item = project.items.first()
    assert item.flame_prompt.startswith("INSTRUCTIONS:\ntitle: ")
    assert "\nCONTEXT:\n" in item.flame_prompt
    assert item.flame_prompt.endswith("EVALUATION:\nchoice:")
    assert item.gold_label in {"A", "B"}
    demo_project_ensure(n_per_task=20)
    assert project.items.count() == count
    assert project.items.filter(split=Item.Split.HELDOUT).exists()


def test_submit_is_idempotent_for_the_same_key(project, rater):
    item = project.items.first()
    first, created = annotation_submit(item=item, annotator=rater, label="A", submission_key="k1")
    again, created_again = annotation_submit(
        item=item, annotator=rater, label="A", submission_key="k1"
    )
    assert created is True and created_again is False
    assert first.pk == again.pk
    assert Annotation.objects.filter(item=item).count() == 1


def test_second_submission_from_another_tab_keeps_one_label(project, rater):
    item = project.items.first()
    annotation_submit(item=item, annotator=rater, label="A", submission_key="tab1")
    kept, created = annotation_submit(item=item, annotator=rater, label="B", submission_key="tab2")
    assert created is False and kept.label == "A"
    assert Annotation.objects.filter(item=item, annotator=rater).count() == 1


def test_label_outside_the_task_is_rejected(project, rater):
    item = project.items.first()
    with pytest.raises(ValidationError) as error:
        annotation_submit(item=item, annotator=rater, label="C", submission_key="k")
    assert error.value.messages == [LABEL_NOT_IN_TASK.format(label="C", labels=["A", "B", "tie"])]
    assert not Annotation.objects.exists()


def test_two_raters_never_claim_the_same_item_when_one_rater_per_item(project, rater):
    other = get_user_model().objects.create_user("rater3", password="pw")
    first = assignment_claim_next(project=project, rater=rater)
    second = assignment_claim_next(project=project, rater=other)
    assert first is not None and second is not None and first.pk != second.pk
    # Asking again returns the rater's own unexpired claim.
    assert assignment_claim_next(project=project, rater=rater).pk == first.pk


def test_a_labelled_item_is_not_handed_out_again(project, rater):
    item = assignment_claim_next(project=project, rater=rater)
    annotation_submit(item=item, annotator=rater, label="A", submission_key="x")
    assert assignment_claim_next(project=project, rater=rater).pk != item.pk


def test_items_create_rejects_a_bad_example_and_writes_nothing(project):
    definition = project.tasks.get(name="demo_arithmetic")
    before = Item.objects.count()
    good = Example(
        task=definition.name,
        id="g",
        label="A",
        context={"question": "q", RESPONSE_A: "1", RESPONSE_B: "2"},
    )
    bad = Example(task=definition.name, id="b", label="A", context={"question": "q"})
    with pytest.raises(ValueError, match="context lacks field 'response A'"):
        items_create(project=project, definition=definition, examples=[good, bad])
    assert Item.objects.count() == before


def _claim_all(project, rater) -> list[int]:
    """Claim and label items until the queue is empty; the ids in the order they came."""
    order = []
    while (item := assignment_claim_next(project=project, rater=rater)) is not None:
        order.append(item.pk)
        annotation_submit(
            item=item, annotator=rater, label="A", submission_key=f"{rater.pk}-{item.pk}"
        )
    return order


def test_a_label_closes_the_item_and_a_higher_k_reopens_it(project, rater):
    item = assignment_claim_next(project=project, rater=rater)
    annotation_submit(item=item, annotator=rater, label="A", submission_key="c1")
    annotation_submit(item=item, annotator=rater, label="B", submission_key="c2")  # second tab
    item.refresh_from_db()
    assert (item.label_count, item.is_open) == (1, False)
    other = get_user_model().objects.create_user("rater3", password="pw")
    assert item.pk not in _claim_all(project, other)

    project.raters_per_item = 3
    project_save(project=project)
    item.refresh_from_db()
    assert item.is_open
    third = get_user_model().objects.create_user("rater4", password="pw")
    assert item.pk in _claim_all(project, third)
    item.refresh_from_db()
    assert (item.label_count, item.is_open) == (2, True)


def test_an_expired_claim_returns_the_item_to_the_pool(project, rater):
    other = get_user_model().objects.create_user("rater3", password="pw")
    item = assignment_claim_next(project=project, rater=rater)
    assert assignment_claim_next(project=project, rater=other).pk != item.pk
    Assignment.objects.filter(rater=rater).update(expires_at=timezone.now() - timedelta(seconds=1))
    late = get_user_model().objects.create_user("rater4", password="pw")
    assert assignment_claim_next(project=project, rater=late).pk == item.pk


@pytest.mark.django_db(transaction=True)
def test_concurrent_raters_never_get_the_same_item_with_one_rater_per_item():
    """Real concurrent transactions on Postgres: 6 raters claim in threads at once."""
    project = demo_project_ensure(n_per_task=20)
    users = [get_user_model().objects.create_user(f"c{i}", password="pw") for i in range(6)]
    barrier = threading.Barrier(len(users))
    claimed: dict[int, list[int]] = {}

    def work(user) -> None:
        try:
            barrier.wait()
            mine = claimed.setdefault(user.pk, [])
            for round_ in range(4):
                item = assignment_claim_next(project=project, rater=user)
                if item is None:
                    return
                mine.append(item.pk)
                annotation_submit(
                    item=item, annotator=user, label="A", submission_key=f"{user.pk}-{round_}"
                )
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [pk for ids in claimed.values() for pk in ids]
    assert len(every) == 24 and len(set(every)) == 24
    counts = Counter(Annotation.objects.values_list("item_id", flat=True))
    assert set(counts.values()) == {1}
    assert set(Item.objects.filter(pk__in=every).values_list("label_count", "is_open")) == {
        (1, False)
    }


@pytest.mark.django_db(transaction=True)
def test_a_claim_waits_for_one_in_flight_on_the_last_open_item(rater):
    """The rater screen preloads the next item while the rater may already press "next": two
    claims by one rater at once. With one open item left, the second must wait for the first
    and get the same item, not answer "nothing left" because the first holds its row lock."""
    project = demo_project_ensure(n_per_task=1)
    last, *done = list(project.items.order_by("-id"))
    for item in done:
        Item.objects.filter(pk=item.pk).update(is_open=False)
    locked, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def hold_the_claim() -> None:
        # The first request, stopped between its claim and its commit.
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"SELECT id FROM {Item._meta.db_table} WHERE id = %s FOR UPDATE",
                        [last.pk],
                    )
                    Assignment.objects.create(
                        item=last, rater=rater, expires_at=timezone.now() + timedelta(hours=1)
                    )
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    def claim_again() -> None:
        try:
            results["item"] = assignment_claim_next(project=project, rater=rater)
        finally:
            connection.close()

    first = threading.Thread(target=hold_the_claim)
    first.start()
    assert locked.wait(10)
    second = threading.Thread(target=claim_again)
    second.start()
    second.join(1.0)
    assert second.is_alive(), "the second claim should wait for the first one's commit"
    release.set()
    first.join(10)
    second.join(10)
    assert results["item"] is not None and results["item"].pk == last.pk
    assert Assignment.objects.filter(item=last, rater=rater).count() == 1


def _promoted_version(project) -> AutoraterVersion:
    return AutoraterVersion.objects.create(
        project=project,
        number=1,
        status=AutoraterVersion.Status.PROMOTED,
        checkpoint_dir="/nonexistent",
        snapshot_hash="x",
    )


def test_uncertainty_first_routing_offers_the_least_sure_items_first(project, rater):
    version = _promoted_version(project)
    items = list(project.items.order_by("pk")[:4])
    verdicts = [
        ({"A": 0.97, "B": 0.02, "tie": 0.01}, True),  # sure
        ({"A": 0.52, "B": 0.40, "tie": 0.08}, True),  # a coin flip
        ({"A": 0.70, "B": 0.25, "tie": 0.05}, True),
        ({"A": 0.90, "B": 0.05, "tie": 0.05}, False),  # its two orders disagree
    ]
    judgments = ModelJudgment.objects.bulk_create(
        ModelJudgment(
            item=item,
            version=version,
            label="A",
            confidence=max(probabilities.values()),
            probabilities=probabilities,
            consistent=consistent,
            format_version="x",
        )
        for item, (probabilities, consistent) in zip(items, verdicts, strict=True)
    )
    assert route_priorities_set(judgments) == 4

    sequential = assignment_claim_next(project=project, rater=rater)
    assert sequential.pk == items[0].pk
    project.routing = Project.Routing.UNCERTAINTY_FIRST
    project.save()
    other = get_user_model().objects.create_user("rater3", password="pw")
    order = _claim_all(project, other)
    # Disagreeing orders first, then by closeness to a coin flip; unjudged items after, in
    # import order; the item rater2 holds is passed over.
    unjudged = list(
        project.items.exclude(pk__in=[i.pk for i in items]).values_list("pk", flat=True)
    )
    assert order == [items[3].pk, items[1].pk, items[2].pk, *sorted(unjudged)]


def test_judging_with_the_live_autorater_writes_route_priorities(project, tmp_path):
    """The real judge path (a tiny random model) sets the priority of every judged item."""
    from flax import nnx

    from judging.checkpoint import save_checkpoint
    from judging.demo_tasks import DEMO_TASKS, generate_demo_examples
    from judging.model import Decoder, ModelConfig
    from judging.task_format import render_example
    from judging.tokenizer import format_constant_lines, train_tokenizer

    tasks = {task.name: task for task in DEMO_TASKS}
    texts = [render_example(tasks[e.task], e) for e in generate_demo_examples(20, seed=3)]
    tokenizer = train_tokenizer(texts, 512, constant_lines=format_constant_lines(DEMO_TASKS))
    config = ModelConfig.named(
        "tiny",
        vocab_size=tokenizer.vocab_size,
        d_model=32,
        n_layers=1,
        n_heads=2,
        n_kv_heads=1,
        d_ff=64,
        max_len=512,
    )
    save_checkpoint(tmp_path / "ckpt", Decoder(config, rngs=nnx.Rngs(0)), config, tokenizer, {})
    version = _promoted_version(project)
    version.checkpoint_dir = str(tmp_path / "ckpt")
    version.save()
    items = list(project.items.filter(task__name="demo_arithmetic").order_by("pk")[:6])
    assert judge_items(version_id=version.pk, item_ids=[item.pk for item in items]) == 6
    for judgment in ModelJudgment.objects.filter(version=version).select_related("item"):
        expected = judgment_priority(
            probabilities=judgment.probabilities,
            consistent=judgment.consistent,
            valid=judgment.valid,
        )
        assert judgment.item.route_priority == pytest.approx(expected)
        if judgment.valid and judgment.probabilities:
            assert 1.0 <= judgment.item.route_priority <= 4.0  # judged: above the unjudged
        else:
            assert judgment.item.route_priority == 0.0  # unusable: with the unjudged
