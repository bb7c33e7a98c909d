"""The training settings as a readable form: a weight per task with its example count, a typed
field per TrainConfig override showing its default, validated with clear messages."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from training.config import TrainConfig
from webapp.annotation.demo import demo_project_ensure
from webapp.retraining.models import TrainingSettings
from webapp.retraining.services import training_settings_for
from webapp.retraining.settings_form import ReadableTrainingSettingsForm, override_fields

pytestmark = pytest.mark.django_db


def _base(project) -> dict:
    """The other settings (variant, gate, ...) as the page holds them."""
    form = ReadableTrainingSettingsForm(instance=training_settings_for(project))
    return {f.name: f.value() for f in form.plain_fields() if f.value() is not None}


@pytest.fixture
def project():
    return demo_project_ensure(n_per_task=3)


@pytest.fixture
def admin(client, project):
    client.force_login(get_user_model().objects.get(username="admin"))
    return client


def test_the_page_shows_weights_with_counts_and_typed_overrides(admin, project, settings):
    body = admin.get(reverse("autorater", args=[project.slug])).content.decode()
    assert (
        'name="config_overrides"' in body and "<textarea" not in body.split("training-settings")[-1]
    )
    for task in project.tasks.all():
        assert f'name="weight:{task.name}"' in body
        assert f"<td>{task.items.count()}</td>" in body
    default = TrainConfig.preset(settings.EMBER_TRAIN_PRESET, **settings.EMBER_TRAIN_OVERRIDES)
    assert f'name="override:steps" placeholder="{default.steps}"' in body
    assert f"Default {default.learning_rate!r}" in body
    assert 'name="override:lr_schedule"' in body and f"default ({default.lr_schedule})" in body
    # Only plain-typed fields become inputs; the web process reads them without JAX.
    types = {name: kind for name, kind, _ in override_fields()}
    assert types["steps"] is int and types["dropout"] is float and types["remat"] is bool
    assert "mixture_weights" not in types and "lora_targets" not in types


def test_typed_settings_are_saved_as_the_json_they_replace(admin, project):
    url = reverse("training-settings", args=[project.slug])
    tasks = list(project.tasks.values_list("name", flat=True))
    response = admin.post(
        url,
        {
            **_base(project),
            f"weight:{tasks[0]}": "2",
            f"weight:{tasks[1]}": "0.5",
            "override:steps": "50",
            "override:remat": "1",
            "override:lr_schedule": "linear",
            "override:dropout": "",
        },
    )
    assert response.status_code == 200, [
        line for line in response.content.decode().splitlines() if "error" in line
    ]
    saved = TrainingSettings.objects.get(project=project)
    assert saved.mixture_weights == {tasks[0]: 2.0, tasks[1]: 0.5}
    assert saved.config_overrides == {"steps": 50, "remat": True, "lr_schedule": "linear"}
    page = admin.get(reverse("autorater", args=[project.slug])).content.decode()
    assert 'name="override:steps" value="50"' in page or 'value="50"' in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("override:steps", "0", "steps and batch_size must be &gt;= 1"),
        ("override:steps", "many", "Enter a whole number."),
        ("override:swap_probability", "1.5", "swap_probability must be in [0, 1]"),
        ("weight:demo_arithmetic", "-1", "greater than or equal to 0"),
    ],
)
def test_bad_values_are_named_at_their_field(admin, project, field, value, message):
    url = reverse("training-settings", args=[project.slug])
    response = admin.post(url, {**_base(project), field: value})
    body = response.content.decode()
    assert response.status_code == 400 and message in body
    after_field = body.split(f'name="{field}"', 1)[1]
    assert message in after_field.split(' name="', 1)[0]  # before the next field
    assert TrainingSettings.objects.get(project=project).config_overrides == {}


def test_self_taught_rounds_and_samples_are_typed_settings_and_audited(admin, project):
    from webapp.audit.models import AuditLog

    page = admin.get(reverse("autorater", args=[project.slug])).content.decode()
    form = page.split("training-settings-form", 1)[1]
    for name, value, low, high in (("rounds", 1, 1, 10), ("samples", 4, 1, 32)):
        field = form.split(f'name="self_taught_{name}"', 1)[1].split(">", 1)[0]
        assert f'min="{low}"' in field and f'max="{high}"' in field and f'value="{value}"' in field
        assert 'type="number"' in form.split(f'name="self_taught_{name}"', 1)[0].rsplit("<", 1)[1]
        # The input's aria-describedby names its help text.
        assert f'aria-describedby="id_self_taught_{name}_helptext"' in field
        assert f'id="id_self_taught_{name}_helptext"' in form
    assert "Self-Taught variant only: rounds of writing pairs" in form
    assert "Self-Taught variant only: judgments sampled per written pair" in form

    url = reverse("training-settings", args=[project.slug])
    posted = {**_base(project), "self_taught_rounds": "3", "self_taught_samples": "8"}
    assert admin.post(url, posted).status_code == 200
    saved = TrainingSettings.objects.get(project=project)
    assert (saved.self_taught_rounds, saved.self_taught_samples) == (3, 8)
    entry = AuditLog.objects.filter(action="training_settings.update").latest("pk")
    assert entry.summary["changed"] == {"self_taught_rounds": [1, 3], "self_taught_samples": [4, 8]}
    # Left out of a post (a script, an older page) or left empty: the saved values stay.
    without = {k: v for k, v in _base(project).items() if not k.startswith("self_taught")}
    assert admin.post(url, {**without, "self_taught_samples": ""}).status_code == 200
    saved.refresh_from_db()
    assert (saved.self_taught_rounds, saved.self_taught_samples) == (3, 8)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("self_taught_rounds", "0", "At least 1 round."),
        ("self_taught_rounds", "11", "At most 10 rounds."),
        ("self_taught_rounds", "2.5", "Enter a whole number."),
        ("self_taught_samples", "-1", "At least 1 judgment per pair."),
        ("self_taught_samples", "33", "At most 32 judgments per pair."),
    ],
)
def test_self_taught_values_out_of_bounds_are_refused_at_their_field(
    admin, project, field, value, message
):
    from webapp.audit.models import AuditLog

    url = reverse("training-settings", args=[project.slug])
    response = admin.post(url, {**_base(project), field: value})
    body = response.content.decode()
    assert response.status_code == 400
    after_field = body.split(f'name="{field}"', 1)[1]
    assert message in after_field.split(' name="', 1)[0]  # before the next field
    assert body.count(message) == 1
    saved = TrainingSettings.objects.get(project=project)
    assert (saved.self_taught_rounds, saved.self_taught_samples) == (1, 4)
    assert not AuditLog.objects.filter(action="training_settings.update").exists()
