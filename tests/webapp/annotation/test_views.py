import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from judging.task_format import RESPONSE_A, RESPONSE_B, Example
from webapp.annotation.demo import demo_project_ensure
from webapp.annotation.models import Annotation, Item, Project
from webapp.annotation.services import items_create
from webapp.retraining.models import TrainingRun

pytestmark = pytest.mark.django_db

SCRIPT = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned=2">'


@pytest.fixture
def project() -> Project:
    return demo_project_ensure(n_per_task=5)


@pytest.fixture
def rater_client(client, project):
    user = get_user_model().objects.get(username="rater")
    client.force_login(user)
    return client


def test_queue_shows_an_item_with_keyboard_hints(rater_client, project):
    response = rater_client.get(reverse("queue", args=[project.slug]))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-key="a"' in body and 'data-key="b"' in body and 'data-key="t"' in body


def test_label_is_stored_in_the_request(rater_client, project):
    item = project.items.first()
    response = rater_client.post(
        reverse("submit-label", args=[project.slug, item.pk]),
        {"label": "B", "submission_key": "abc"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert Annotation.objects.get(item=item).label == "B"
    assert 'data-testid="human-verdict"' in response.content.decode()


def test_model_responses_are_escaped(rater_client, project):
    definition = project.tasks.get(name="demo_arithmetic")
    Item.objects.filter(project=project).delete()
    items_create(
        project=project,
        definition=definition,
        examples=[
            Example(
                task=definition.name,
                id="evil",
                label="A",
                context={"question": "2+2?", RESPONSE_A: SCRIPT, RESPONSE_B: "4"},
            )
        ],
    )
    body = rater_client.get(reverse("queue", args=[project.slug])).content.decode()
    assert "<script>window.__pwned" not in body
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in body


def test_rater_cannot_retrain_or_see_the_autorater_admin(rater_client, project):
    assert rater_client.get(reverse("autorater", args=[project.slug])).status_code == 403
    assert rater_client.post(reverse("retrain", args=[project.slug])).status_code == 403
    assert not TrainingRun.objects.exists()


def test_outsider_cannot_open_the_queue(client, project):
    outsider = get_user_model().objects.create_user("outsider", password="pw")
    client.force_login(outsider)
    assert client.get(reverse("queue", args=[project.slug])).status_code == 403


def test_verdict_stays_hidden_until_the_rater_labels(rater_client, project):
    item = project.items.first()
    url = reverse("autorater-verdict", args=[project.slug, item.pk])
    assert rater_client.get(url).status_code == 403


def test_multi_turn_prompts_are_shown_as_turns_and_escaped(rater_client, project):
    definition = project.tasks.get(name="demo_arithmetic")
    Item.objects.filter(project=project).delete()
    turns = [{"role": "user", "content": SCRIPT}, {"role": "assistant", "content": "Hi"}]
    items_create(
        project=project,
        definition=definition,
        examples=[
            Example(
                task=definition.name,
                id="turns",
                label="A",
                context={"question": turns, RESPONSE_A: "1", RESPONSE_B: "2"},
            )
        ],
    )
    body = rater_client.get(reverse("queue", args=[project.slug])).content.decode()
    assert body.count('class="turn turn-') == 2
    assert "<script>window.__pwned" not in body


def test_a_verdict_outside_the_labels_says_so_and_whether_the_task_was_trained(
    rater_client, project
):
    from webapp.annotation.rater_services import annotation_submit
    from webapp.autoraters.models import AutoraterVersion, ModelJudgment

    item = project.items.first()
    rater = get_user_model().objects.get(username="rater")
    annotation_submit(item=item, annotator=rater, label="A", submission_key="k")
    version = AutoraterVersion.objects.create(
        project=project,
        number=1,
        status="promoted",
        checkpoint_dir="-",
        snapshot_hash="-",
        config={"per_task_examples": {"another_task": 10}},
    )
    ModelJudgment.objects.create(
        item=item,
        version=version,
        label="",
        confidence=0.4,
        probabilities={"A": 0.4, "B": 0.35},
        valid=False,
        format_version="t",
    )
    url = reverse("autorater-verdict", args=[project.slug, item.pk])
    page = rater_client.get(url).content.decode()
    assert 'data-testid="autorater-label">no verdict<' in page
    assert "has not been trained on this task yet" in page
    assert "P(A) = 0.400" in page and "autorater-confidence" not in page

    version.config = {"per_task_examples": {item.task.name: 10}}
    version.save()
    page = rater_client.get(url).content.decode()
    assert "no verdict" in page and "has not been trained on this task" not in page
