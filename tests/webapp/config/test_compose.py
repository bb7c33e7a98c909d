"""docker-compose.yml runs the full stack (no Docker engine here: checked structurally)."""

from pathlib import Path

import yaml
from django.conf import settings

COMPOSE = Path(__file__).resolve().parents[3] / "docker-compose.yml"


def _queues(command: str) -> set[str]:
    parts = command.split()
    return set(parts[parts.index("-Q") + 1].split(","))


def test_compose_runs_every_service_and_queue():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "gpu-worker", "beat"} <= set(services)
    served = set()
    for name in ("worker", "gpu-worker"):
        served |= _queues(services[name]["command"])
    assert served == {queue.name for queue in settings.CELERY_TASK_QUEUES}
    assert set(settings.CELERY_TASK_ROUTES) == {"ember.judge.*", "ember.train.*", "ember.default.*"}
    gpu = services["gpu-worker"]
    assert "train" in _queues(gpu["command"]) and "train" not in _queues(
        services["worker"]["command"]
    )
    assert "--concurrency 1" in gpu["command"] and "--prefetch-multiplier 1" in gpu["command"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    # Redis keeps queued messages across a restart; every Ember service shares the artifacts.
    assert "--appendonly" in services["redis"]["command"]
    for name in ("web", "worker", "gpu-worker", "beat"):
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgres://")
        assert environment["REDIS_URL"].startswith("redis://")
        assert any(v.startswith("artifacts:") for v in services[name]["volumes"])
    assert "beat" in services["beat"]["command"]
