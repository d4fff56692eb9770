"""The sharded paths, run in a separate process with 4 fake CPU devices.

`XLA_FLAGS=--xla_force_host_platform_device_count=4` must be set before jax
initialises, so this test starts `pytest tests/sharded` in a subprocess; the
default process stays single-device.
"""

import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest


ROOT = Path(__file__).resolve().parent.parent


def _run_sharded(marks: str):
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    ).strip()
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-x",
            "-p",
            "no:xdist",
            "-p",
            "no:cacheprovider",
            "-m",
            marks,
            str(ROOT / "tests" / "sharded"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "passed" in proc.stdout and "skipped" not in proc.stdout


@pytest.mark.sharded
def test_sharded_suite_on_four_fake_devices():
    _run_sharded("not slow")


@pytest.mark.slow
@pytest.mark.sharded
def test_sharded_suite_heavy_cases():
    """reconstruct, the divergence, knn_entropy, flow and score_tracks (Sinkhorn) over the mesh."""
    _run_sharded("slow")


def test_default_process_is_single_device():
    assert jax.device_count() >= 1  # the subprocess' flag did not leak here
