"""scripts' service manager: idempotent up, readable errors, down stops what up started."""

import os
import shutil
import socket
import subprocess
import uuid

import psycopg
import pytest

from tests.ports import free_port
from tom_desc.local_services import BASE_DIR, PgCluster, ServiceError, Tansu, pid_alive, port_open

pytestmark = pytest.mark.slow


@pytest.fixture
def scratch_dir():
    # Under var/ (not /tmp) so a server run as another user can reach it.
    path = BASE_DIR / "var" / "test-services" / uuid.uuid4().hex[:8]
    path.mkdir(parents=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_tansu_up_is_idempotent_and_down_stops_it(scratch_dir):
    broker = Tansu(root=scratch_dir, port=free_port())
    try:
        assert "started" in broker.up()
        assert port_open("127.0.0.1", broker.port)
        assert "already running" in broker.up()
    finally:
        broker.down()
    assert not port_open("127.0.0.1", broker.port)
    assert broker.running_pid() is None


def test_a_zombie_is_not_alive():
    child = subprocess.Popen(["true"])
    try:
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
        assert not pid_alive(child.pid)
    finally:
        child.wait()
    assert pid_alive(os.getpid())


def test_a_silent_broker_process_is_replaced_not_reported_running(scratch_dir):
    # A tansu on its way out keeps its pid but no longer answers; `up` used to
    # report it "already running" and every Kafka client then failed.
    silent = scratch_dir / "tansu"
    silent.symlink_to(shutil.which("sleep"))
    stuck = subprocess.Popen([str(silent), "600"])
    broker = Tansu(root=scratch_dir, port=free_port())
    broker.pidfile.write_text(str(stuck.pid))
    try:
        assert broker.running_pid() == stuck.pid
        assert "started" in broker.up()
        assert stuck.wait(timeout=15) is not None
        assert port_open("127.0.0.1", broker.port)
    finally:
        stuck.kill()
        broker.down()


def test_a_pid_file_naming_another_program_is_ignored(scratch_dir):
    other = subprocess.Popen(["sleep", "600"])
    broker = Tansu(root=scratch_dir, port=free_port())
    broker.pidfile.write_text(str(other.pid))
    try:
        assert broker.running_pid() is None
        assert "started" in broker.up()
        assert other.poll() is None
    finally:
        other.kill()
        broker.down()


def test_port_taken_is_a_readable_error(scratch_dir):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(ServiceError, match=f"127.0.0.1:{port} is taken"):
            Tansu(root=scratch_dir, port=port).up()
        with pytest.raises(ServiceError, match=f"127.0.0.1:{port} is taken"):
            PgCluster(root=scratch_dir / "pg", port=port).up()


def test_postgres_cluster_lifecycle(scratch_dir):
    cluster = PgCluster(root=scratch_dir / "pg", port=free_port())
    try:
        assert "started" in cluster.up()
        assert "already running" in cluster.up()
        with psycopg.connect(host="127.0.0.1", port=cluster.port, user="postgres", dbname="tom_desc") as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        cluster.down()
    assert cluster.running_pid() is None
    assert "not running" in cluster.down()
