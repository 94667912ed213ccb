"""InfluxDB 1.8, built from the Go module proxy: serves /api/v2/write and Flux for influxdb-client.

1.8 is the last line that is pure Go (2.x needs Rust for Flux), so `go install` builds it here.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from base64 import b64encode

from stack.errors import StackError
from stack.install import ensure_go_binary
from stack.services.base import Service

MODULE = "github.com/influxdata/influxdb/cmd/influxd"


class InfluxDBService(Service):
    name = "influxdb"
    start_timeout = 60.0

    @property
    def port(self) -> int:
        return self.settings.influx_port

    @property
    def extra_ports(self) -> list[int]:
        return [self.settings.influx_rpc_port]

    def install(self) -> None:
        self._binary()

    def _binary(self) -> str:
        version = self.settings.influx_version
        return str(
            ensure_go_binary(
                MODULE,
                f"v{version}",
                "influxd",
                self.tools_dir / "bin",
                # The release build stamps these; without them `influxd version` says "unknown".
                ldflags=f"-X main.version={version} -X main.branch=1.8 -X main.commit=v{version}",
            )
        )

    def command(self) -> tuple[list[str], dict[str, str]]:
        binary = self._binary()
        s = self.settings
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.conf_dir / "influxdb.conf"
        config.write_text(
            "reporting-disabled = true\n"
            f'bind-address = "{s.bind_host}:{s.influx_rpc_port}"\n'
            f'[meta]\n  dir = "{self.data_dir / "meta"}"\n'
            f'[data]\n  dir = "{self.data_dir / "data"}"\n  wal-dir = "{self.data_dir / "wal"}"\n'
            '  query-log-enabled = false\n  index-version = "tsi1"\n'
            "[monitor]\n  store-enabled = false\n"
            "[http]\n  enabled = true\n"
            f'  bind-address = "{s.bind_host}:{s.influx_port}"\n'
            "  auth-enabled = true\n  log-enabled = false\n  flux-enabled = true\n"
            "[continuous_queries]\n  log-enabled = false\n"
            '[logging]\n  level = "warn"\n'
        )
        return [binary, "run", "-config", str(config)], {}

    def _request(
        self, path: str, params: dict[str, str] | None = None, *, auth: bool = True
    ) -> tuple[int, dict[str, str], bytes]:
        url = f"{self.settings.influx_url}{path}"
        data = urllib.parse.urlencode(params).encode() if params is not None else None
        request = urllib.request.Request(url, data=data)  # noqa: S310 - loopback URL from settings
        if auth:
            credentials = (
                f"{self.settings.influx_user}:{self.settings.influx_password.get_secret_value()}"
            )
            request.add_header("Authorization", "Basic " + b64encode(credentials.encode()).decode())
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def healthy(self) -> bool:
        status, _, _ = self._request("/ping", auth=False)
        return status == 204

    def version(self) -> str:
        _, headers, _ = self._request("/ping", auth=False)
        return headers.get("X-Influxdb-Version", "?")

    def _query(self, q: str, *, auth: bool = True) -> tuple[int, bytes]:
        status, _, body = self._request("/query", {"q": q}, auth=auth)
        return status, body

    def post_start(self) -> None:
        s = self.settings
        status, body = self._query("SHOW DATABASES")
        if status in (401, 403) or b"create admin user first" in body:
            # No admin yet: 1.8 lets an unauthenticated request create the first one, only.
            password = s.influx_password.get_secret_value().replace("'", "\\'")
            status, body = self._query(
                f"CREATE USER \"{s.influx_user}\" WITH PASSWORD '{password}' WITH ALL PRIVILEGES",
                auth=False,
            )
            if status != 200 or b'"error"' in body:
                raise StackError(
                    f"influxdb: the admin user cannot be created or logged in ({body[:200]!r})",
                    "the password in .env changed after the data was created: "
                    "`studyhub stack reset` recreates the data directory",
                )
        status, body = self._query(f'CREATE DATABASE "{s.influx_database}"')
        if status != 200 or b'"error"' in body:
            raise StackError(
                f"influxdb: CREATE DATABASE failed: {json.loads(body or b'{}')}",
                "read `studyhub stack logs influxdb`",
            )
