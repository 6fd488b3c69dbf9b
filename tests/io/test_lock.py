"""One run per output directory: the lock names the other run and is taken over from a dead one."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from lofar_hires.errors import InputError
from lofar_hires.io.lock import LOCK_NAME, output_lock


def test_second_run_is_refused_with_the_pid(tmp_path):
    with output_lock(tmp_path / "out") as lock:
        owner = json.loads(lock.read_text())
        assert owner["pid"] > 0 and owner["host"] == socket.gethostname()
        with pytest.raises(InputError, match=rf"in use by another run \(host .*, pid {owner['pid']}\)"):
            with output_lock(tmp_path / "out"):
                pass
    assert not (tmp_path / "out" / LOCK_NAME).exists()  # released


def test_lock_of_a_dead_run_is_taken_over(tmp_path, caplog):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / LOCK_NAME).write_text(json.dumps({"host": socket.gethostname(), "pid": int(dead.stdout)}))
    with output_lock(tmp_path):
        pass
    assert "no longer runs" in caplog.text
    # A lock held on another host is never presumed dead.
    (tmp_path / LOCK_NAME).write_text(json.dumps({"host": "elsewhere.invalid", "pid": 1}))
    with pytest.raises(InputError, match="host elsewhere.invalid, pid 1"):
        with output_lock(tmp_path):
            pass


def test_unwritable_directory_is_a_clear_error(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(InputError, match="cannot create output directory"):
        with output_lock(afile / "out"):
            pass
