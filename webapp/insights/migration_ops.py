"""Migration operations for indexes that only PostgreSQL can build.

The rollup tables are filled by PostgreSQL SQL (webapp/insights/rollup.py), and their ordering
indexes use DESC NULLS LAST, which SQLite cannot put in an index. On other databases the index
is recorded in the migration state but not created, so the embedded SQLite setup still migrates.
"""

from django.db import migrations


class AddIndexOnPostgres(migrations.AddIndex):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
