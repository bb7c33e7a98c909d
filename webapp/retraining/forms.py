"""Forms for the autorater admin: a retrain request and the project's training settings. They
validate; the services (training_run_request, training_settings_update) write."""

from __future__ import annotations

from django import forms
from django.conf import settings

from webapp.retraining.models import TrainingSettings, Variant
from webapp.retraining.services import TRAINING_SETTINGS_FIELDS, train_config_for


class RetrainForm(forms.Form):
    variant = forms.ChoiceField(choices=Variant.choices, required=False)


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

    def clean(self):
        cleaned = super().clean()
        for name in ("gate_agreement_tolerance", "gate_bias_tolerance"):
            value = cleaned.get(name)
            if value is not None and not 0 <= value <= 1:
                self.add_error(name, "A tolerance is a fraction between 0 and 1.")
        return cleaned
