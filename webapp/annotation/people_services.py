"""A project's people: add a user with a role, change a role, remove a member, invite someone
with a one-time link. Every change is audited (member.add, member.role, member.remove,
invite.create, invite.accept). A project keeps at least one admin."""

from __future__ import annotations

import datetime
import hashlib
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from webapp.annotation.models import ROLE_RANK, Invite, Membership, Project
from webapp.audit.services import Via, audit_record

INVITE_DAYS = 7
NO_SUCH_USER = "No user named “{username}”: invite them with a link instead."
ALREADY_MEMBER = "{username} is already a member of this project ({role})."
UNKNOWN_ROLE = "Unknown role “{role}”: choose rater, analyst or admin."
LAST_ADMIN = "A project keeps at least one admin: make someone else admin first."
NOT_A_MEMBER = "That user is not a member of this project."
INVITE_INVALID = "This invitation link is not valid: it was used, revoked or has expired."
USERNAME_TAKEN = "The username “{username}” is taken."
USERNAME_REQUIRED = "Choose a username."
PASSWORDS_DIFFER = "The two passwords differ."


def _role(role: str) -> str:
    if role not in Membership.Role.values:
        raise ValidationError(UNKNOWN_ROLE.format(role=role))
    return role


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _refuse_losing_last_admin(membership: Membership) -> None:
    if membership.role != Membership.Role.ADMIN:
        return
    admins = Membership.objects.filter(project=membership.project, role=Membership.Role.ADMIN)
    if not admins.exclude(pk=membership.pk).exists():
        raise ValidationError(LAST_ADMIN)


def member_add(
    *, project: Project, username: str, role: str, actor=None, via: Via | None = None
) -> Membership:
    role = _role(role)
    username = (username or "").strip()
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ValidationError(NO_SUCH_USER.format(username=username))
    with transaction.atomic():
        existing = Membership.objects.filter(project=project, user=user).first()
        if existing is not None:
            raise ValidationError(ALREADY_MEMBER.format(username=username, role=existing.role))
        membership = Membership.objects.create(project=project, user=user, role=role)
        audit_record(
            action="member.add",
            actor=actor,
            via=via,
            obj=project,
            summary={"user": user.username, "role": role},
        )
    return membership


def member_role_set(
    *, project: Project, user_id: int, role: str, actor=None, via: Via | None = None
) -> Membership:
    role = _role(role)
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update()
            .select_related("user", "project")
            .filter(project=project, user_id=user_id)
            .first()
        )
        if membership is None:
            raise ValidationError(NOT_A_MEMBER)
        if membership.role == role:
            return membership
        if role != Membership.Role.ADMIN:
            _refuse_losing_last_admin(membership)
        before, membership.role = membership.role, role
        membership.save(update_fields=["role"])
        audit_record(
            action="member.role",
            actor=actor,
            via=via,
            obj=project,
            summary={"user": membership.user.username, "from": before, "to": role},
        )
    return membership


def member_remove(*, project: Project, user_id: int, actor=None, via: Via | None = None) -> None:
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update()
            .select_related("user", "project")
            .filter(project=project, user_id=user_id)
            .first()
        )
        if membership is None:
            raise ValidationError(NOT_A_MEMBER)
        _refuse_losing_last_admin(membership)
        membership.delete()
        audit_record(
            action="member.remove",
            actor=actor,
            via=via,
            obj=project,
            summary={"user": membership.user.username, "role": membership.role},
        )


def invite_create(
    *, project: Project, role: str, note: str = "", actor=None, via: Via | None = None
) -> tuple[Invite, str]:
    """A one-time invitation. Returns (invite, secret): the secret (the link's last part) is
    shown once and stored only as its hash."""
    role = _role(role)
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        invite = Invite.objects.create(
            project=project,
            role=role,
            token_hash=_token_hash(secret),
            note=(note or "").strip()[:200],
            created_by=actor if actor is not None and actor.is_authenticated else None,
            expires_at=timezone.now() + datetime.timedelta(days=INVITE_DAYS),
        )
        audit_record(
            action="invite.create",
            actor=actor,
            via=via,
            obj=project,
            summary={"invite": invite.pk, "role": role, "note": invite.note},
        )
    return invite, secret


def invite_for_secret(secret: str) -> Invite | None:
    """The open invitation for a link's secret, or None (unknown, used, revoked, expired)."""
    invite = Invite.objects.select_related("project").filter(token_hash=_token_hash(secret)).first()
    if invite is None or invite.accepted_at or invite.revoked_at:
        return None
    if invite.expires_at <= timezone.now():
        return None
    return invite


def invite_accept(
    *,
    secret: str,
    user=None,
    username: str = "",
    password: str = "",
    password_again: str = "",
    via: Via | None = None,
):
    """Accept an invitation: as the given (logged-in) user, or as a new user with the username
    and password. The link works once. Returns the user, now a member with the invite's role
    (an existing member keeps the higher of the two roles)."""
    with transaction.atomic():
        invite = invite_for_secret(secret)
        if invite is not None:
            invite = Invite.objects.select_for_update().get(pk=invite.pk)
        if invite is None or invite.accepted_at is not None:
            raise ValidationError(INVITE_INVALID)
        if user is None:
            user = _user_create(username, password, password_again)
        membership, created = Membership.objects.get_or_create(
            project=invite.project, user=user, defaults={"role": invite.role}
        )
        if not created and ROLE_RANK[membership.role] < ROLE_RANK[invite.role]:
            membership.role = invite.role
            membership.save(update_fields=["role"])
        invite.accepted_at, invite.accepted_by = timezone.now(), user
        invite.save(update_fields=["accepted_at", "accepted_by"])
        audit_record(
            action="invite.accept",
            actor=user,
            via=via,
            obj=invite.project,
            summary={"invite": invite.pk, "user": user.username, "role": membership.role},
        )
    return user


def _user_create(username: str, password: str, password_again: str):
    users = get_user_model()
    username = (username or "").strip()
    if not username:
        raise ValidationError(USERNAME_REQUIRED)
    users.username_validator(username)
    if users.objects.filter(username=username).exists():
        raise ValidationError(USERNAME_TAKEN.format(username=username))
    if password != password_again:
        raise ValidationError(PASSWORDS_DIFFER)
    candidate = users(username=username)
    validate_password(password, user=candidate)
    return users.objects.create_user(username=username, password=password)


def invite_revoke(*, invite: Invite, actor=None, via: Via | None = None) -> None:
    with transaction.atomic():
        if invite.accepted_at is None and invite.revoked_at is None:
            invite.revoked_at = timezone.now()
            invite.save(update_fields=["revoked_at"])
            audit_record(
                action="invite.revoke",
                actor=actor,
                via=via,
                obj=invite.project,
                summary={"invite": invite.pk},
            )
