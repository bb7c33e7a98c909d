"""The promotion gate with real training: a deliberately worse config is refused, the live
version stays live, and the refused version is registered with its lineage and the decision."""

import pytest

from webapp.annotation.demo import demo_project_ensure
from webapp.audit.models import AuditLog
from webapp.autoraters.models import AutoraterVersion
from webapp.retraining.execution import training_run_execute
from webapp.retraining.models import TrainingRun
from webapp.retraining.services import training_run_request

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_judging_messages(settings):
    # Promotion queues judging on the broker; nothing consumes it in this test.
    yield
    from webapp.config.celery import app

    app.control.purge()


def _train(project, **overrides) -> TrainingRun:
    run = training_run_request(project=project, trigger="manual", config_overrides=overrides)
    return training_run_execute(run_id=run.pk)


def test_gate_refuses_a_deliberately_worse_version(settings):
    settings.EMBER_DEMO_MIXTURE_PER_TASK = 300
    project = demo_project_ensure(n_per_task=60)
    good = _train(project, steps=300, learning_rate=3e-3, warmup_steps=20, batch_size=16)
    assert good.status == "succeeded", good.error
    v1 = AutoraterVersion.objects.get(training_run=good)
    assert v1.status == "promoted" and v1.gate["passed"]

    # Worse on purpose: the learning rate is zero, so the weights never leave their init.
    worse = _train(project, steps=8, learning_rate=0.0)
    assert worse.status == "succeeded", worse.error
    v2 = AutoraterVersion.objects.get(training_run=worse)
    print("v1", v1.metrics["accuracy"], "v2", v2.metrics["accuracy"], v2.gate)
    assert v2.status == "candidate"
    assert not v2.gate["passed"] and "agreement" in v2.gate["reason"]
    agreement = v2.gate["checks"][0]
    assert agreement["high"] < 0 and agreement["live"] == v1.metrics["accuracy"]
    assert v2.parent == v1 and v2.incumbent_metrics["accuracy"] == v1.metrics["accuracy"]
    assert v2.snapshot_hash == worse.snapshot_hash and v2.config["train"]["learning_rate"] == 0
    assert set(v2.mixture_weights) == {"demo_arithmetic", "demo_keyword"}
    v1.refresh_from_db()
    assert v1.status == "promoted"
    # The gate's promotion of v1 is audited as the system's (no user); v2's refusal is not.
    promoted = AuditLog.objects.filter(action="version.promote")
    assert [(row.object_id, row.username) for row in promoted] == [(str(v1.pk), "")]
