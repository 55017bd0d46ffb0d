"""scripts/lib/stop_processes.sh, which the run command and the demo alert
cycle use on Ctrl-C: polite first, then a kill after the grace period that
names the process that would not stop."""

import subprocess
import tempfile
import time

import pytest

from tom_desc.local_services import BASE_DIR

pytestmark = pytest.mark.slow

LIB = BASE_DIR / "scripts" / "lib" / "stop_processes.sh"


def _run(body: str) -> tuple[subprocess.CompletedProcess, float]:
    script = f"set -euo pipefail\nsource {LIB}\n{body}\n"
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:  # the scripts' files stay out of the clone
        done = subprocess.run(["bash", "-c", script], cwd=scratch, capture_output=True, text=True, timeout=30)
    return done, time.monotonic() - start


def test_processes_that_stop_on_sigterm_are_not_killed():
    done, seconds = _run("sleep 60 & a=$!; sleep 60 & b=$!; stop_processes 5 $a $b; echo stopped")
    assert done.returncode == 0
    assert done.stdout.strip() == "stopped"
    assert done.stderr == ""
    assert seconds < 4


def test_a_process_ignoring_sigterm_is_killed_with_its_children_and_named():
    body = (
        "bash -c 'trap \"\" TERM; sleep 300 & echo $! > child; wait' & stubborn=$!; "
        "sleep 0.5; stop_processes 2 $stubborn; echo stopped; cat child"
    )
    done, seconds = _run(body)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split()
    assert lines[0] == "stopped"
    assert "did not stop in 2 s; killed" in done.stderr
    assert "trap" in done.stderr  # the command line of the stubborn process
    assert 2 <= seconds < 8
    child = lines[1]
    assert subprocess.run(["kill", "-0", child], capture_output=True).returncode != 0


def test_nothing_to_stop():
    done, _ = _run("stop_processes 5; echo stopped")
    assert (done.returncode, done.stdout.strip()) == (0, "stopped")
