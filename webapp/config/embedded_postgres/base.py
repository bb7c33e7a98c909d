"""The Django database backend of the embedded PostgreSQL: PostgreSQL's own backend, which starts
the embedded server (or finds it running) on a process's first connection and then connects
to its Unix socket. Settings: webapp.config.settings.local."""

from pathlib import Path

from django.db.backends.postgresql import base

from webapp.config.embedded_postgres import start


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        if not self.settings_dict["HOST"]:
            server = start(Path(self.settings_dict["EMBER_VAR_DIR"]))
            self.settings_dict["HOST"] = server["HOST"]
            self.settings_dict["PORT"] = server["PORT"]
        return super().get_connection_params()
