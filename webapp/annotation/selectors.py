"""Reads for annotation."""

from __future__ import annotations

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Value
from django.utils import timezone

from judging.task_format import Example, Task
from webapp.annotation import queue_sql
from webapp.annotation.models import (
    ROLE_RANK,
    Annotation,
    Invite,
    Item,
    Membership,
    Project,
    TaskDefinition,
)


def user_is_admin(user) -> bool:
    """A site admin: a superuser, or a member of the "admin" group. Site admins may create
    projects (and become their admins) and read the audit log; only superusers reach every
    project without a role in it."""
    return user.is_superuser or user.groups.filter(name="admin").exists()


def project_role(user, project: Project) -> str | None:
    """The user's role in the project ("rater", "analyst", "admin"), or None. Superusers are
    admins of every project."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return Membership.Role.ADMIN
    if getattr(project, "user_role_for", None) == user.pk:  # read by project_for_member
        return project.user_role
    return (
        Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    )


def user_has_role(user, project: Project, role: str) -> bool:
    """Whether the user holds `role` or a higher one in the project."""
    held = project_role(user, project)
    return held is not None and ROLE_RANK[held] >= ROLE_RANK[role]


def user_is_project_admin(user, project: Project) -> bool:
    return user_has_role(user, project, Membership.Role.ADMIN)


def user_can_adjudicate(user, project: Project) -> bool:
    """Analysts and admins of the project read its data and adjudicate."""
    return user_has_role(user, project, Membership.Role.ANALYST)


def user_admins_any_project(user) -> bool:
    """Whether the user may hold an admin-scope API token: a site admin or a project admin."""
    return (
        user_is_admin(user)
        or Membership.objects.filter(user=user, role=Membership.Role.ADMIN).exists()
    )


def project_list_for_user(user) -> QuerySet[Project]:
    """The projects the user has a role in (every project for a superuser), each with
    `user_role`."""
    if user.is_superuser:
        return Project.objects.annotate(user_role=Value(Membership.Role.ADMIN.value))
    roles = Membership.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1]
    return Project.objects.filter(memberships__user=user).annotate(user_role=Subquery(roles))


def projects_with_role(user, role: str) -> QuerySet[Project]:
    """The projects where the user holds `role` or a higher one."""
    if user.is_superuser:
        return Project.objects.all()
    held = [name for name, rank in ROLE_RANK.items() if rank >= ROLE_RANK[role]]
    return Project.objects.filter(memberships__user=user, memberships__role__in=held)


def project_for_member(*, slug: str, user) -> Project | None:
    """The project by slug with `user_is_rater` (any role) and `user_role` set (one statement:
    it runs on every claim)."""
    project = queue_sql.fetch_one(Project, queue_sql.PROJECT_SQL, {"slug": slug, "user": user.pk})
    if project is not None:
        project.user_role_for = user.pk
    return project


def project_invites_open(project: Project) -> QuerySet[Invite]:
    """Invitations not yet used, revoked or expired, newest first."""
    return Invite.objects.filter(
        project=project,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).order_by("-created_at")


def project_members(project: Project) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(project=project).select_related("user").order_by("user__username")
    )


ITEM_COUNT_SECONDS = 300


def item_count_key(project_id: int) -> str:
    return f"project-item-count:{project_id}"


def project_item_count(project: Project) -> int:
    """Items in a project, cached: counting a million rows takes longer than a claim may.
    items_create drops the cached count when it adds items."""
    key = item_count_key(project.pk)
    total = cache.get(key)
    if total is None:
        total = Item.objects.filter(project=project).count()
        cache.set(key, total, timeout=ITEM_COUNT_SECONDS)
    return total


def project_progress(*, project: Project, user) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(queue_sql.PROGRESS_SQL, {"user": user.pk, "project": project.pk})
        done, skipped = cursor.fetchone()
    return {"total": project_item_count(project), "done": done, "skipped": skipped}


# Task definitions by (id, updated_at), shared by the requests of a process: a task changes
# rarely, and its updated_at (read with the item) says when it did.
_TASKS: dict[tuple[int, object], TaskDefinition] = {}


def item_of_project(*, item_id: int, project: Project) -> Item | None:
    """An item with its task (one statement when the task is cached, as it almost always is)."""
    item = queue_sql.fetch_one(Item, queue_sql.ITEM_SQL, {"item": item_id, "project": project.pk})
    if item is None:
        return None
    key = (item.task_id, item.task_updated_at)
    task = _TASKS.get(key)
    if task is None:
        if len(_TASKS) > 1000:
            _TASKS.clear()
        task = _TASKS[key] = TaskDefinition.objects.get(pk=item.task_id)
    item.task = task
    return item


def annotation_for(*, item: Item, user) -> Annotation | None:
    return Annotation.objects.filter(item=item, annotator=user, is_current=True).first()


def annotation_history(*, item: Item, user) -> QuerySet[Annotation]:
    return Annotation.objects.filter(item=item, annotator=user).order_by("revision")


def items_needing_adjudication(project: Project) -> QuerySet[Item]:
    """Items whose current human labels disagree and that nobody has adjudicated yet."""
    return (
        Item.objects.filter(project=project, adjudicated_at__isnull=True)
        .annotate(
            n_labels=Count("annotations", filter=Q(annotations__is_current=True)),
            n_distinct=Count(
                "annotations__label", filter=Q(annotations__is_current=True), distinct=True
            ),
        )
        .filter(n_labels__gte=2, n_distinct__gte=2)
        .select_related("task")
        .order_by("pk")
    )


def current_labels(item: Item) -> QuerySet[Annotation]:
    return (
        Annotation.objects.filter(item=item, is_current=True)
        .select_related("annotator")
        .order_by("created_at")
    )


def rater_gold_accuracy(*, project: Project, user) -> dict[str, float | int | None]:
    """The rater's accuracy on gold items (known answers) of the project."""
    with connection.cursor() as cursor:
        cursor.execute(queue_sql.GOLD_SQL, {"user": user.pk, "project": project.pk})
        n, right = cursor.fetchone()
    return {"n": n, "accuracy": right / n if n else None}


def task_of(definition) -> Task:
    return Task.from_dict(definition.as_task_dict())


def item_example(
    item: Item, *, label: str | None = None, provenance: dict | None = None
) -> Example:
    """The item as a judging Example (label: the gold label unless one is given)."""
    return Example(
        task=item.task.name,
        id=f"item-{item.pk}",
        context=dict(item.context),
        reference=item.reference or None,
        label=label if label is not None else (item.gold_label or None),
        provenance=provenance if provenance is not None else {"item": item.pk, **item.provenance},
    )
