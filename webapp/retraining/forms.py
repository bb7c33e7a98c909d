"""Forms for the autorater admin: a retrain request and the project's training settings. They
validate; the services (training_run_request, training_settings_update) write."""

from __future__ import annotations

from django import forms
from django.conf import settings

from webapp.retraining.models import (
    SELF_TAUGHT_MAX_ROUNDS,
    SELF_TAUGHT_MAX_SAMPLES,
    TrainingSettings,
    Variant,
)
from webapp.retraining.services import TRAINING_SETTINGS_FIELDS, train_config_for


class RetrainForm(forms.Form):
    variant = forms.ChoiceField(choices=Variant.choices, required=False)


# The foundation's settings (base, share, no-forgetting tolerance): optional in a post.
FOUNDATION_FIELDS = ("base", "base_path", "project_share", "gate_foundation_tolerance")
# The Self-Taught variant's settings, also optional in a post; their bounds are the model's.
SELF_TAUGHT_FIELDS = {
    "self_taught_rounds": (1, SELF_TAUGHT_MAX_ROUNDS),
    "self_taught_samples": (1, SELF_TAUGHT_MAX_SAMPLES),
}
OPTIONAL_FIELDS = (*FOUNDATION_FIELDS, *SELF_TAUGHT_FIELDS)


class TrainingSettingsForm(forms.ModelForm):
    class Meta:
        model = TrainingSettings
        fields = list(TRAINING_SETTINGS_FIELDS)
        help_texts = {
            "mixture_weights": 'Task name -> weight, e.g. {"demo_arithmetic": 2, "demo_length": 1}'
            "; {} for examples-proportional.",
            "config_overrides": 'TrainConfig fields, e.g. {"steps": 500}.',
        }

    def clean_mixture_weights(self) -> dict:
        weights = self.cleaned_data["mixture_weights"] or {}
        if not isinstance(weights, dict):
            raise forms.ValidationError("Give a JSON object of task name -> weight.")
        known = set(self.instance.project.tasks.values_list("name", flat=True))
        for name, weight in weights.items():
            if name not in known:
                raise forms.ValidationError(f"Unknown task {name!r}.")
            if not isinstance(weight, int | float) or weight < 0:
                raise forms.ValidationError(f"The weight of {name!r} must be a number >= 0.")
        if weights and not any(weights.values()):
            raise forms.ValidationError("At least one task needs a positive weight.")
        return weights

    def clean_config_overrides(self) -> dict:
        overrides = self.cleaned_data["config_overrides"] or {}
        if not isinstance(overrides, dict):
            raise forms.ValidationError("Give a JSON object of TrainConfig fields.")
        try:
            train_config_for(
                preset=settings.EMBER_TRAIN_PRESET, project_overrides=overrides, run_overrides={}
            )
        except ValueError as error:
            raise forms.ValidationError(str(error)) from error
        return overrides

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "base" in self.fields:
            from webapp.retraining.foundation import foundation_status_text

            self.fields["base"].help_text = foundation_status_text()
        for name in OPTIONAL_FIELDS:  # left out of a post: the current value stays
            if name in self.fields:
                self.fields[name].required = False
        for name, (low, high) in SELF_TAUGHT_FIELDS.items():
            if name in self.fields:
                # The model's bounds and messages (not the form's generic ">= 0").
                field = self.fields[name]
                field.validators = list(TrainingSettings._meta.get_field(name).validators)
                field.widget.attrs.update(min=low, max=high, step=1)
        if "base_version" in self.fields:
            # A base: this project's versions or the foundation's (not other teams').
            from django.db.models import Q

            from webapp.autoraters.models import AutoraterVersion
            from webapp.retraining.models import Foundation

            foundations = Foundation.objects.values("project_id")
            self.fields["base_version"].queryset = AutoraterVersion.objects.filter(
                Q(project=self.instance.project) | Q(project_id__in=foundations)
            ).select_related("project")

    def clean(self):
        cleaned = super().clean()
        for name in FOUNDATION_FIELDS:
            if name in self.fields and cleaned.get(name) in (None, "") and name not in self.data:
                cleaned[name] = getattr(self.instance, name)
        for name in SELF_TAUGHT_FIELDS:  # left out or left empty: the current value stays
            if name in self.fields and cleaned.get(name) is None and name not in self.errors:
                cleaned[name] = getattr(self.instance, name)
        for name in (
            "gate_agreement_tolerance",
            "gate_bias_tolerance",
            "gate_foundation_tolerance",
        ):
            value = cleaned.get(name)
            if value is not None and not 0 <= value <= 1:
                self.add_error(name, "A tolerance is a fraction between 0 and 1.")
        share = cleaned.get("project_share")
        if share is not None and not 0 <= share <= 1:
            self.add_error("project_share", "The project's share is a fraction between 0 and 1.")
        base = cleaned.get("base")
        if base == TrainingSettings.Base.VERSION and not cleaned.get("base_version"):
            self.add_error("base_version", "Pick the version to start from.")
        if base == TrainingSettings.Base.PATH:
            self._check_base_path(cleaned.get("base_path") or "")
        return cleaned

    def _check_base_path(self, path: str) -> None:
        """A local checkpoint: a directory with an Ember checkpoint, an adapter or a Hugging
        Face checkpoint (judging.checkpoint tells them apart when training starts)."""
        from pathlib import Path

        if not path or not Path(path).is_dir():
            self.add_error("base_path", f"{path or '(empty)'}: no such directory on the server.")
        elif not any((Path(path) / name).is_file() for name in ("config.json", "metadata.json")):
            self.add_error(
                "base_path", f"{path}: no config.json or metadata.json, not a checkpoint."
            )
