"""MariaDB (as MySQL): one instance per shard, each in its own datadir and port."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

from core.settings import Settings
from stack.errors import StackError
from stack.install import ensure_debian_packages, which
from stack.process import run
from stack.services.base import Service

log = logging.getLogger(__name__)

_PACKAGES = {
    "mariadbd": "mariadb-server",
    "mariadb-install-db": "mariadb-server",
    "mariadb": "mariadb-client",
    "mariadb-admin": "mariadb-client",
}


def _sql_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class MariaDBShard(Service):
    start_timeout = 90.0

    def __init__(self, settings: Settings, shard: int) -> None:
        self.shard = shard
        self.name = f"mariadb-{shard}"
        super().__init__(settings)

    @property
    def port(self) -> int:
        return self.settings.mysql_port(self.shard)

    @property
    def socket(self) -> Path:
        # Unix socket paths are limited to 107 bytes; run/ is the shortest place we own.
        return self.run_dir / f"{self.name}.sock"

    @property
    def defaults_file(self) -> Path:
        return self.conf_dir / "my.cnf"

    @property
    def tmp_dir(self) -> Path:
        # Not /tmp: it is shared with every other checkout and job on the machine. A CI run
        # failed in mariadb-install-db when a bootstrap temporary table vanished from /tmp
        # ("Could not remove temporary table ... error: 2", then "Unknown table
        # mysql.tmp_user_sys"). A directory of our own cannot be swept by anyone else.
        return self.settings.stack_dir / "tmp" / self.name

    def install(self) -> None:
        ensure_debian_packages(_PACKAGES)

    def _write_config(self) -> None:
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        s = self.settings
        self.defaults_file.write_text(
            "[mysqld]\n"
            f"datadir={self.data_dir}\n"
            f"port={self.port}\n"
            f"bind-address={s.bind_host}\n"
            f"socket={self.socket}\n"
            f"tmpdir={self.tmp_dir}\n"
            f"pid-file={self.run_dir / (self.name + '.mysqld.pid')}\n"
            f"server-id={self.shard + 1}\n"
            f"innodb_buffer_pool_size={s.mysql_buffer_pool}\n"
            "innodb_log_file_size=64M\n"
            # Durable commits: an acknowledged chat message must survive a crash.
            "innodb_flush_log_at_trx_commit=1\n"
            "max_connections=600\n"
            "character-set-server=utf8mb4\n"
            "collation-server=utf8mb4_unicode_ci\n"
            "skip-name-resolve\n"
            "performance_schema=OFF\n"
            "log_warnings=1\n"
        )

    def command(self) -> tuple[list[str], dict[str, str]]:
        self.install()
        self._write_config()
        root_user = ["--user=root"] if os.geteuid() == 0 else []
        if not (self.data_dir / "mysql").is_dir():
            self._initialise_datadir(root_user)
        mariadbd = which("mariadbd") or "mariadbd"
        return [mariadbd, f"--defaults-file={self.defaults_file}", *root_user], {}

    def _initialise_datadir(self, root_user: list[str]) -> None:
        argv = [
            which("mariadb-install-db") or "mariadb-install-db",
            f"--defaults-file={self.defaults_file}",
            "--auth-root-authentication-method=socket",
            "--skip-test-db",
            *root_user,
        ]
        what = f"{self.name}: initialising the datadir"
        fix = f"remove {self.data_dir} (studyhub stack reset) and retry"
        try:
            run(argv, what=what, fix=fix)
        except StackError as first:
            # The datadir is new and empty of anything of ours: a half-written one is safe
            # to throw away, and one clean second try is what an operator would do by hand.
            log.warning(
                "%s\n%s\n%s: retrying once on a clean datadir",
                first.problem,
                first.log_tail or "",
                self.name,
            )
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir.mkdir(parents=True, exist_ok=True)
            run(argv, what=what, fix=fix)

    def _client(self, sql: str) -> str:
        result = subprocess.run(
            [which("mariadb") or "mariadb", f"--socket={self.socket}", "-N", "-B", "-e", sql],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(
                f"{self.name}: SQL failed: {result.stderr.strip()}",
                "check the server log with `studyhub stack logs " + self.name + "`",
            )
        return result.stdout

    def healthy(self) -> bool:
        return self._client("SELECT 1").strip() == "1"

    def version(self) -> str:
        return self._client("SELECT VERSION()").strip()

    def post_start(self) -> None:
        s = self.settings
        password = _sql_literal(s.mysql_password.get_secret_value())
        databases = [s.mysql_database]
        if self.shard == 0:
            databases.append(s.dagster_database)
        statements = [f"CREATE DATABASE IF NOT EXISTS `{db}`" for db in databases]
        for host in ("127.0.0.1", "localhost"):
            user = f"{_sql_literal(s.mysql_user)}@{_sql_literal(host)}"
            statements += [
                f"CREATE USER IF NOT EXISTS {user} IDENTIFIED BY {password}",
                f"ALTER USER {user} IDENTIFIED BY {password}",
                # studyhub_* too: the migration tests work in scratch databases of their own.
                f"GRANT ALL PRIVILEGES ON `{s.mysql_database}`.* TO {user}",
                f"GRANT ALL PRIVILEGES ON `{s.mysql_database}\\_%`.* TO {user}",
            ]
            if self.shard == 0:
                statements.append(f"GRANT ALL PRIVILEGES ON `{s.dagster_database}`.* TO {user}")
        self._client(";\n".join(statements) + ";")
