"""The training settings as a form people can read: a weight per task (with its example count)
instead of a JSON mixture, and a typed field per TrainConfig override with its default, instead
of a JSON object. It fills the JSON fields of TrainingSettingsForm from the typed ones, so the
same validation (known tasks, weights >= 0, a TrainConfig that builds) applies.

TrainConfig is read from training/config.py, which imports no JAX (the web process never does).
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing

from django import forms
from django.conf import settings
from django.db.models import Count, Q

from webapp.retraining.forms import TrainingSettingsForm

SIMPLE_TYPES = (bool, int, float, str)
WEIGHT_PREFIX = "weight:"
OVERRIDE_PREFIX = "override:"


def _choices_for(name: str) -> tuple[str, ...] | None:
    from training import config

    return {
        "lr_schedule": config.LR_SCHEDULES,
        "dtype": config.DTYPES,
        "param_dtype": config.DTYPES[1:],
        "lora_base_dtype": config.DTYPES[1:],
    }.get(name)


def override_fields() -> list[tuple[str, type, object]]:
    """(name, type, default) of each TrainConfig field with a simple type; the default is the
    deployment's: its preset with its overrides (EMBER_TRAIN_PRESET, EMBER_TRAIN_OVERRIDES)."""
    from training.config import TrainConfig

    hints = typing.get_type_hints(TrainConfig)
    base = TrainConfig.preset(settings.EMBER_TRAIN_PRESET, **settings.EMBER_TRAIN_OVERRIDES)
    return [
        (field.name, hints[field.name], getattr(base, field.name))
        for field in dataclasses.fields(TrainConfig)
        if hints[field.name] in SIMPLE_TYPES
    ]


def _typed_field(name: str, kind: type, default) -> forms.Field:
    label = name.replace("_", " ")
    help_text = f"Default {default!r} (preset {settings.EMBER_TRAIN_PRESET!r}); empty keeps it."
    if kind is bool:
        return forms.TypedChoiceField(
            label=label,
            required=False,
            choices=[("", f"default ({'on' if default else 'off'})"), ("1", "on"), ("0", "off")],
            coerce=lambda value: value == "1",
            empty_value=None,
            help_text=f"Default {'on' if default else 'off'}.",
        )
    choices = _choices_for(name)
    if choices:
        return forms.TypedChoiceField(
            label=label,
            required=False,
            choices=[("", f"default ({default})"), *((c, c) for c in choices)],
            empty_value=None,
            help_text=help_text,
        )
    attrs = {"placeholder": str(default)}
    if kind is int:
        return forms.IntegerField(
            label=label, required=False, help_text=help_text, widget=forms.NumberInput(attrs)
        )
    if kind is float:
        return forms.FloatField(
            label=label,
            required=False,
            help_text=help_text,
            widget=forms.NumberInput({**attrs, "step": "any"}),
        )
    return forms.CharField(
        label=label, required=False, help_text=help_text, widget=forms.TextInput(attrs)
    )


class ReadableTrainingSettingsForm(TrainingSettingsForm):
    """TrainingSettingsForm with the two JSON fields replaced by typed fields."""

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        instance = self.instance
        weights = instance.mixture_weights or {}
        overrides = instance.config_overrides or {}
        self.task_rows = []
        tasks = instance.project.tasks.annotate(
            n_items=Count("items", distinct=True),
            n_labelled=Count(
                "items",
                filter=Q(items__label_count__gt=0) | ~Q(items__gold_label=""),
                distinct=True,
            ),
        ).order_by("name")
        for task in tasks:
            name = f"{WEIGHT_PREFIX}{task.name}"
            self.fields[name] = forms.FloatField(
                label=f"{task.name} (retired)" if task.retired else task.name,
                required=False,
                min_value=0,
                initial=weights.get(task.name),
                widget=forms.NumberInput({"step": "any", "placeholder": "proportional"}),
            )
            self.task_rows.append((task, name))
        self.override_rows = []
        self.other_overrides = {}
        simple = {name for name, _, _ in override_fields()}
        for name, kind, default in override_fields():
            key = f"{OVERRIDE_PREFIX}{name}"
            field = _typed_field(name, kind, default)
            value = overrides.get(name)
            field.initial = ("1" if value else "0") if kind is bool and name in overrides else value
            self.fields[key] = field
            self.override_rows.append((name, key))
        # Overrides of structured fields (dicts, lists) are kept as they are.
        self.other_overrides = {k: v for k, v in overrides.items() if k not in simple}
        for name in ("mixture_weights", "config_overrides"):
            self.fields[name].widget = forms.HiddenInput()
            self.fields[name].required = False
        # A post of the JSON fields alone (a script, an older page) is read as before.
        typed = (WEIGHT_PREFIX, OVERRIDE_PREFIX)
        self.typed_post = self.is_bound and any(key.startswith(typed) for key in self.data)
        if self.typed_post:
            self.data = self.data.copy()
            self.data["mixture_weights"] = "{}"
            self.data["config_overrides"] = json.dumps(self.other_overrides)

    def plain_fields(self) -> list:
        """The settings that are not a task weight or an override (variant, gate, ...)."""
        typed = (WEIGHT_PREFIX, OVERRIDE_PREFIX)
        return [f for f in self.visible_fields() if not f.name.startswith(typed)]

    def weight_rows(self) -> list:
        return [(task, self[key]) for task, key in self.task_rows]

    def override_bound(self) -> list:
        """(bound field, overridden now): the overridden ones first."""
        current = self.instance.config_overrides or {}
        rows = [(self[key], name in current) for name, key in self.override_rows]
        return sorted(rows, key=lambda row: not row[1])

    def json_errors(self) -> list[str]:
        return [*self.errors.get("mixture_weights", []), *self.errors.get("config_overrides", [])]

    def clean_mixture_weights(self) -> dict:
        if not self.typed_post:
            return super().clean_mixture_weights()
        # Django cleans this field before the typed ones (they are added after it), so each
        # weight is read from the raw data through its own field's clean.
        weights = {}
        for task, key in self.task_rows:
            try:
                value = self.fields[key].clean(self.data.get(key, ""))
            except forms.ValidationError:
                continue  # reported on the weight's own field
            if value is not None:
                weights[task.name] = value
        self.cleaned_data["mixture_weights"] = weights
        return super().clean_mixture_weights()

    def clean_config_overrides(self) -> dict:
        if not self.typed_post:
            return super().clean_config_overrides()
        overrides = dict(self.other_overrides)
        for name, key in self.override_rows:
            field = self.fields[key]
            try:
                value = field.clean(self.data.get(key, ""))
            except forms.ValidationError:
                continue
            if value is not None and value != "":
                overrides[name] = value
        self.cleaned_data["config_overrides"] = overrides
        try:
            return super().clean_config_overrides()
        except forms.ValidationError as error:
            message = " ".join(error.messages)
            named = [
                key
                for name, key in self.override_rows
                if name in overrides and re.search(rf"\b{name}\b", message)
            ]
            for key in named:
                self.add_error(key, error.messages[0])
            if named:
                return overrides
            raise
