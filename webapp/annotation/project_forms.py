"""Forms of the project and rubric pages: a project's settings, and a rubric per task type."""

from __future__ import annotations

from django import forms
from django.utils.text import slugify

from judging.task_format import RESPONSE_A, RESPONSE_B, FormatError, Task, TaskType
from webapp.annotation.models import Project, TaskDefinition

DEFAULT_OUTPUT_FIELD = {
    "pairwise": "choice",
    "pointwise": "score",
    "classification": "label",
    "open_ended": "answer",
}


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(
        max_length=100,
        required=False,
        help_text="The project's address, /p/<slug>/ (from the name when left empty).",
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    raters_per_item = forms.IntegerField(
        min_value=1, max_value=50, initial=1, help_text="How many raters label each item."
    )
    blind_first = forms.BooleanField(
        required=False,
        initial=True,
        label="Blind first",
        help_text="Raters see the autorater's verdict only after they submit their own.",
    )
    routing = forms.ChoiceField(choices=Project.Routing.choices)
    heldout_percent = forms.IntegerField(
        min_value=0,
        max_value=100,
        initial=20,
        label="Held-out share (%)",
        help_text="Imported items held out for evaluation, never trained on (the import default).",
    )

    def __init__(self, *args, project: Project | None = None, **kwargs):
        self.project = project
        if project is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": project.name,
                "slug": project.slug,
                "description": project.description,
                "raters_per_item": project.raters_per_item,
                "blind_first": not project.reveal_autorater_before_submit,
                "routing": project.routing,
                "heldout_percent": project.heldout_percent,
            }
        super().__init__(*args, **kwargs)
        if project is not None:
            self.fields["slug"].disabled = True

    def clean_slug(self) -> str:
        if self.project is not None:
            return self.project.slug
        slug = self.cleaned_data.get("slug") or slugify(self.data.get("name", ""))[:100]
        if not slug:
            raise forms.ValidationError("Give a slug of letters, digits and hyphens.")
        if Project.objects.filter(slug=slug).exists():
            raise forms.ValidationError(f"The slug {slug!r} is taken by another project.")
        return slug

    def settings(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"],
            "raters_per_item": data["raters_per_item"],
            "reveal_autorater_before_submit": not data["blind_first"],
            "routing": data["routing"],
            "heldout_percent": data["heldout_percent"],
        }


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class RubricForm(forms.Form):
    """One form for the four task types; the fields a type does not use are ignored."""

    name = forms.SlugField(
        max_length=150,
        help_text="The task's identifier in the project and in exported data (kept when edited).",
    )
    type = forms.ChoiceField(
        choices=[
            ("pairwise", "Pairwise: which of two responses is better"),
            ("pointwise", "Pointwise: score one response"),
            ("classification", "Classification: pick a label"),
            ("open_ended", "Open-ended: write an answer"),
        ]
    )
    title = forms.CharField(max_length=500)
    guidelines = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="What to judge and what each answer means; raters open it with the g key.",
    )
    context_fields = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="One per line, shown to the rater in this order (pairwise tasks add "
        "'response A' and 'response B').",
    )
    output_field = forms.SlugField(max_length=60, required=False)
    allow_tie = forms.BooleanField(required=False, initial=True, label="Allow a tie")
    scale_kind = forms.ChoiceField(
        choices=[("labelled", "Labelled scale (buttons)"), ("numeric", "Numeric range")],
        initial="labelled",
        required=False,
    )
    labels = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="One per line (classification labels, or the labelled scale's points).",
    )
    scale_low = forms.FloatField(required=False, initial=0)
    scale_high = forms.FloatField(required=False, initial=10)

    def __init__(self, *args, definition: TaskDefinition | None = None, **kwargs):
        self.definition = definition
        if definition is not None and "initial" not in kwargs:
            kwargs["initial"] = rubric_initial(definition)
        super().__init__(*args, **kwargs)
        if definition is not None:
            self.fields["name"].disabled = True

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        try:
            data["task"] = self._task(data)
        except FormatError as error:
            raise forms.ValidationError(str(error)) from error
        return data

    def _task(self, data: dict) -> Task:
        kind = data["type"]
        fields = _lines(data.get("context_fields", ""))
        labels: list[str] = []
        scale = None
        if kind == "pairwise":
            fields = [f for f in fields if f not in (RESPONSE_A, RESPONSE_B)]
            fields += [RESPONSE_A, RESPONSE_B]
            labels = ["A", "B", "tie"] if data.get("allow_tie") else ["A", "B"]
        elif kind == "pointwise" and data.get("scale_kind") == "numeric":
            low, high = data.get("scale_low"), data.get("scale_high")
            if low is None or high is None:
                self.add_error("scale_low", "A numeric scale needs its lowest and highest value.")
                raise FormatError("scale: give the lowest and highest value")
            scale = (low, high)
        elif kind in ("pointwise", "classification"):
            labels = _lines(data.get("labels", ""))
            if len(set(labels)) != len(labels):
                self.add_error("labels", "Each label once.")
            if not labels:
                self.add_error("labels", f"A {kind} task needs its labels, one per line.")
        if not fields:
            self.add_error("context_fields", "Name at least one context field.")
        if len(set(fields)) != len(fields):
            self.add_error("context_fields", "Each context field once.")
        if self.errors:
            raise FormatError("see the fields above")
        return Task(
            name=self.definition.name if self.definition else data["name"],
            type=TaskType(kind),
            title=data["title"],
            description=data["guidelines"],
            context_fields=tuple(fields),
            output_fields=(data.get("output_field") or DEFAULT_OUTPUT_FIELD[kind],),
            labels=tuple(labels),
            scale=scale,
        )

    def clean_name(self) -> str:
        if self.definition is not None:
            return self.definition.name
        return self.cleaned_data["name"]


def rubric_initial(definition: TaskDefinition) -> dict:
    pairwise = definition.type == TaskType.PAIRWISE
    fields = [
        f for f in definition.context_fields if not (pairwise and f in (RESPONSE_A, RESPONSE_B))
    ]
    scale = definition.scale or [0, 10]
    return {
        "name": definition.name,
        "type": definition.type,
        "title": definition.title,
        "guidelines": definition.description,
        "context_fields": "\n".join(fields),
        "output_field": definition.output_fields[0] if definition.output_fields else "",
        "allow_tie": "tie" in definition.labels,
        "scale_kind": "numeric" if definition.scale else "labelled",
        "labels": "" if pairwise else "\n".join(definition.labels),
        "scale_low": scale[0],
        "scale_high": scale[1],
    }
