"""The parallel test run keeps a group's tests in one worker.

`make test` relies on pytest-xdist's ``--dist loadgroup`` to build each expensive shared fixture (the demo
chain, the local SLURM cluster) once: tests/conftest.py marks every test with its group while the items are
collected in the worker. Some pytest/pytest-xdist pairs silently ignore that mark (xdist 3.8 records the
group by rewriting ``item._nodeid``, which pytest 9.2 no longer reads), and the suite then builds those
fixtures once per worker. This test runs a small suite marked the same way and checks where its tests ran.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CONFTEST = '''
import pytest

@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    for item in items:
        group = "shared" if "shared" in item.name else item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(group))
'''

TESTS = '''
import os
import time
from pathlib import Path

def _record(name):
    time.sleep(0.2)
    Path(os.environ["GROUP_RECORD_DIR"], name).write_text(os.environ.get("PYTEST_XDIST_WORKER", "main"))

{functions}
'''


def _module(prefix: str) -> str:
    functions = "\n".join(f"def test_{prefix}_{kind}_{i}():\n    _record('{prefix}_{kind}_{i}')\n"
                          for kind in ("shared", "own") for i in range(3))
    return TESTS.format(functions=functions)


def test_a_group_runs_in_one_worker(tmp_path: Path):
    suite = tmp_path / "suite"
    record = tmp_path / "record"
    suite.mkdir()
    record.mkdir()
    (suite / "conftest.py").write_text(CONFTEST)
    for prefix in ("alpha", "beta", "gamma", "delta"):
        (suite / f"test_{prefix}.py").write_text(_module(prefix))
    env = {"GROUP_RECORD_DIR": str(record), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
                           "--dist", "loadgroup", str(suite)], cwd=suite, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    workers = {path.name: path.read_text() for path in record.iterdir()}
    assert len(workers) == 24
    shared = {worker for name, worker in workers.items() if "_shared_" in name}
    assert len(shared) == 1, f"the 'shared' group ran in workers {sorted(shared)}: {done.stdout}"
    for prefix in ("alpha", "beta", "gamma", "delta"):
        own = {worker for name, worker in workers.items() if name.startswith(f"{prefix}_own_")}
        assert len(own) == 1, f"module {prefix}'s group ran in workers {sorted(own)}"
    assert set(workers.values()) == {"gw0", "gw1"}, "both workers should have run tests"
