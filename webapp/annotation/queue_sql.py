"""The rater screens' hot path in SQL: find the next item, take a claim, count a label, and
the reads every claim and submit makes (the project with membership, the item, progress).

Written out rather than built with the ORM: at 100 raters, building these querysets cost more
CPU than the database spent running them. Each statement is plain SQL that Postgres and SQLite
(the embedded mode) both run; row locks (FOR UPDATE SKIP LOCKED) only where the database has
them. Every value goes in as a parameter.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from django.db import connection, connections

from webapp.annotation.models import Annotation, Assignment, Item, Project, Skip, TaskDefinition

ITEM = Item._meta.db_table
ASSIGNMENT = Assignment._meta.db_table
ANNOTATION = Annotation._meta.db_table
SKIP = Skip._meta.db_table
PROJECT = Project._meta.db_table
TASK = TaskDefinition._meta.db_table
MEMBERS = Project.raters.through._meta.db_table

# Items the rater has neither labelled nor skipped (`i` is the item).
_NOT_DONE_BY_RATER = f"""
    NOT EXISTS (SELECT 1 FROM {ANNOTATION} a WHERE a.item_id = i.id AND a.annotator_id = %(rater)s)
    AND NOT EXISTS (SELECT 1 FROM {SKIP} s WHERE s.item_id = i.id AND s.rater_id = %(rater)s)"""

# Current labels plus other raters' live claims leave room for one more rater.
_ROOM_FOR_ONE_MORE = f"""
    i.label_count + (SELECT COUNT(*) FROM {ASSIGNMENT} c
                     WHERE c.item_id = i.id AND c.rater_id <> %(rater)s
                       AND c.expires_at > %(now)s) < %(k)s"""

ORDER = {"sequential": "i.id", "uncertainty_first": "i.route_priority DESC, i.id"}

# How to turn a row of given columns into a model instance, per (model, columns, database).
_PLANS: dict[tuple, tuple] = {}


def _plan(model, columns: tuple[str, ...], db: str) -> tuple:
    """(field attnames in the model's order, their column indexes and converters, extra
    columns): what Manager.raw() works out on every call, worked out once."""
    by_column = {field.column: field for field in model._meta.concrete_fields}
    indexes = {name: index for index, name in enumerate(columns)}
    fields = [f for f in model._meta.concrete_fields if f.column in indexes]
    wrapper = connections[db]
    converters = []
    for field in fields:
        col = field.get_col(model._meta.db_table)
        found = wrapper.ops.get_db_converters(col) + col.get_db_converters(wrapper)
        converters.append((indexes[field.column], col, found))
    extras = [(index, name) for index, name in enumerate(columns) if name not in by_column]
    return tuple(f.attname for f in fields), converters, extras


def fetch_one(model, sql: str, params: dict):
    """The first row of `sql` as a `model` instance (None if no row); columns that are not the
    model's fields become attributes. Manager.raw() without its per-call planning."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        if row is None:
            return None
        columns = tuple(column[0] for column in cursor.description)
    key = (model, columns, connection.alias)
    plan = _PLANS.get(key) or _PLANS.setdefault(key, _plan(model, columns, connection.alias))
    attnames, converters, extras = plan
    values = []
    for index, col, found in converters:
        value = row[index]
        for converter in found:
            value = converter(value, col, connection)
        values.append(value)
    instance = model.from_db(connection.alias, attnames, values)
    for index, name in extras:
        setattr(instance, name, row[index])
    return instance


def excluded_params(item_ids: Sequence[int]) -> dict[str, int]:
    return {f"x{index}": int(pk) for index, pk in enumerate(item_ids)}


def _not_in(n_excluded: int) -> str:
    if not n_excluded:
        return ""
    names = ", ".join(f"%(x{index})s" for index in range(n_excluded))
    return f" AND i.id NOT IN ({names})"


@functools.lru_cache(maxsize=64)
def held_sql(n_excluded: int) -> str:
    """The rater's own live claim on an item of the project they have not labelled or skipped
    (the oldest first). Params: rater, project, now, x0..."""
    return f"""
        SELECT i.id FROM {ASSIGNMENT} h JOIN {ITEM} i ON i.id = h.item_id
        WHERE h.rater_id = %(rater)s AND h.expires_at > %(now)s AND i.project_id = %(project)s
          AND {_NOT_DONE_BY_RATER}{_not_in(n_excluded)}
        ORDER BY h.created_at, i.id
        LIMIT 1"""


@functools.lru_cache(maxsize=64)
def pick_sql(n_excluded: int, routing: str, skip_locked: bool, wait: bool = False) -> str:
    """The next open item the rater may take, locked: skipping rows other claimers hold
    (`skip_locked`), or waiting for them (`wait`); neither where the database has no row
    locks. Walks the partial index of open items in routing order. Params: rater, project,
    now, k, x0..."""
    lock = " FOR UPDATE SKIP LOCKED" if skip_locked else " FOR UPDATE" if wait else ""
    return f"""
        SELECT i.id FROM {ITEM} i
        WHERE i.project_id = %(project)s AND i.is_open{_not_in(n_excluded)}
          AND {_NOT_DONE_BY_RATER}
          AND {_ROOM_FOR_ONE_MORE}
        ORDER BY {ORDER[routing]}
        LIMIT 1{lock}"""


# Take (or renew) the rater's claim on a locked item if there is still room on it. Its own
# statement, run once the row lock is held, so that it sees every claim committed before:
# a claimer that found the row unlocked may have read the queue before the previous holder
# committed, and would otherwise hand the item out once too often. Params: now, expires,
# item, rater, k.
CLAIM_SQL = f"""
    INSERT INTO {ASSIGNMENT} (created_at, updated_at, item_id, rater_id, expires_at)
    SELECT %(now)s, %(now)s, i.id, %(rater)s, %(expires)s FROM {ITEM} i
    WHERE i.id = %(item)s
      AND NOT EXISTS (SELECT 1 FROM {ANNOTATION} a
                      WHERE a.item_id = i.id AND a.annotator_id = %(rater)s)
      AND {_ROOM_FOR_ONE_MORE}
    ON CONFLICT (item_id, rater_id)
    DO UPDATE SET expires_at = excluded.expires_at, updated_at = excluded.updated_at
    RETURNING item_id"""

# One more rater labelled the item: count it, and close it once it has the project's k.
# Params: item.
LABELLED_SQL = f"""
    UPDATE {ITEM} SET label_count = label_count + 1,
        is_open = (label_count + 1 < (SELECT p.raters_per_item FROM {PROJECT} p
                                      WHERE p.id = {ITEM}.project_id))
    WHERE id = %(item)s"""

# The rater's claim ends with their label or skip. Params: item, rater.
RELEASE_SQL = f"DELETE FROM {ASSIGNMENT} WHERE item_id = %(item)s AND rater_id = %(rater)s"

# The project by slug, with the user's role in it (NULL for none) and whether they have one.
# Params: slug, user.
PROJECT_SQL = f"""
    SELECT p.*, m.role AS user_role, m.role IS NOT NULL AS user_is_rater
    FROM {PROJECT} p LEFT JOIN {MEMBERS} m ON m.project_id = p.id AND m.user_id = %(user)s
    WHERE p.slug = %(slug)s"""

# An item of a project, with its task's last change (the key of the task cache). Params: item,
# project.
ITEM_SQL = f"""
    SELECT i.*, t.updated_at AS task_updated_at
    FROM {ITEM} i JOIN {TASK} t ON t.id = i.task_id
    WHERE i.id = %(item)s AND i.project_id = %(project)s"""

# The rater's current labels and skips in a project. Params: user, project.
PROGRESS_SQL = f"""
    SELECT (SELECT COUNT(*) FROM {ANNOTATION} a JOIN {ITEM} i ON i.id = a.item_id
            WHERE a.annotator_id = %(user)s AND a.is_current AND i.project_id = %(project)s),
           (SELECT COUNT(*) FROM {SKIP} s JOIN {ITEM} i ON i.id = s.item_id
            WHERE s.rater_id = %(user)s AND i.project_id = %(project)s)"""

# The rater's current labels on gold items and how many match the known answer. Params: user,
# project.
GOLD_SQL = f"""
    SELECT COUNT(*), COALESCE(SUM(CASE WHEN a.label = i.gold_label THEN 1 ELSE 0 END), 0)
    FROM {ANNOTATION} a JOIN {ITEM} i ON i.id = a.item_id
    WHERE a.annotator_id = %(user)s AND a.is_current AND i.is_gold
      AND i.project_id = %(project)s"""
