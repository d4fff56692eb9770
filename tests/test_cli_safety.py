"""The CLI never loses a user's file: `--out` refuses foreign directories and
unsafe targets before any work, replaces only previous reports (atomically),
cleans up on SIGTERM/SIGHUP as on Ctrl-C, and keeps the umask."""

import json
import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from flowrep._cli import _main
from flowrep._cli._main import main
from flowrep._cli._report import atomic_report, check_out, CLIError, MARKER
from flowrep._io import Terminated, write_atomic


def _snapshot(root: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if a job starts: refusals must come before any work."""

    def boom(*a, **k):
        raise AssertionError("the job ran")

    monkeypatch.setattr(_main, "_reproduce", boom)
    monkeypatch.setattr(_main, "_demo", boom)


def test_users_file_survives(tmp_path, capsys, no_work):
    out = tmp_path / "d"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    (out / "sub").mkdir()
    (out / "sub" / "data.csv").write_text("1,2")
    before = _snapshot(tmp_path)
    assert main(["reproduce", "admissibility-table", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a flowrep report" in err and str(out) in err
    assert _snapshot(tmp_path) == before


def test_previous_report_is_replaced(tmp_path, monkeypatch):
    # a report written by the CLI carries the marker and is replaced in place
    calls = []

    def fake_job(report, args):
        calls.append(args.seed)
        (report.dir / "fig.png").write_bytes(b"png")
        report.figures.append(("fig.png", "a figure"))
        report.data["seed_seen"] = args.seed

    monkeypatch.setattr(_main, "_reproduce", fake_job)
    out = tmp_path / "r"
    for seed in (1, 2):
        assert (
            main(["reproduce", "ghosts", "--out", str(out), "--seed", str(seed)]) == 0
        )
        data = json.loads((out / "report.json").read_text())
        assert data["seed_seen"] == seed
        marker = json.loads((out / MARKER).read_text())
        assert marker["job"] == "ghosts" and marker["flowrep_report"] == 1
    assert calls == [1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]  # no temporaries
    # an empty directory is fine too
    (tmp_path / "empty").mkdir()
    assert main(["reproduce", "ghosts", "--out", str(tmp_path / "empty")]) == 0
    # the marker is the contract: without it, a directory holding a user's
    # file is refused
    (out / MARKER).unlink()
    (out / "notes.txt").write_text("mine")
    assert main(["reproduce", "ghosts", "--out", str(out)]) == 2
    assert (out / "notes.txt").read_text() == "mine"


def test_legacy_report_without_marker(tmp_path):
    # reports written before the marker existed: exactly the report's own files
    out = tmp_path / "old"
    with atomic_report(out, "t") as report:
        report.data["job"] = "ghosts"
        (report.dir / "a.png").write_bytes(b"png")
        report.figures.append(("a.png", "c"))
    (out / MARKER).unlink()
    check_out(out)  # accepted
    (out / "b.png").write_bytes(b"user's")  # a figure index.html does not show
    with pytest.raises(CLIError, match="not a flowrep report"):
        check_out(out)


@pytest.mark.parametrize(
    "target,match",
    [
        ("/", "filesystem root"),
        ("~", "home directory"),
        (".", "current directory"),
        ("..", "contains the current directory"),
        ("", "--out is empty"),
        ("  ", "--out is empty"),
        ("missing/child", "parent directory .* does not exist"),
        ("afile", "exists and is not a directory"),
        ("afile/child", "is not a directory"),
    ],
)
def test_unsafe_targets_refused(tmp_path, monkeypatch, capsys, no_work, target, match):
    work = tmp_path / "work"
    work.mkdir()
    (work / "afile").write_text("x")
    monkeypatch.chdir(work)
    before = _snapshot(tmp_path)
    assert main(["demo", "--out", target]) == 2
    err = capsys.readouterr().err
    assert err.startswith("flowrep: error: --out") and err.count("\n") == 1
    assert re.search(match, err), err
    assert _snapshot(tmp_path) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_parent_refused(tmp_path, capsys, no_work):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    assert main(["demo", "--out", str(ro / "x")]) == 2
    assert "not writable" in capsys.readouterr().err


def test_default_out_creates_its_parent(tmp_path, monkeypatch):
    monkeypatch.setattr(_main, "_reproduce", lambda report, args: None)
    monkeypatch.chdir(tmp_path)
    assert main(["reproduce", "ghosts"]) == 0
    assert (tmp_path / "flowrep-out" / "ghosts" / MARKER).is_file()


def test_files_appearing_during_the_job_are_kept(tmp_path):
    out = tmp_path / "r"
    with atomic_report(out, "t"):
        pass
    with pytest.raises(CLIError, match="not a flowrep report"):
        with atomic_report(out, "t"):
            (out / MARKER).unlink()
            (out / "new.txt").write_text("written meanwhile")
    assert (out / "new.txt").read_text() == "written meanwhile"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_umask_respected(tmp_path):
    old = os.umask(0o027)
    try:
        with atomic_report(tmp_path / "r", "t") as report:
            (report.dir / "f.png").write_bytes(b"png")
            report.figures.append(("f.png", "c"))
    finally:
        os.umask(old)
    out = tmp_path / "r"
    assert stat.S_IMODE(out.stat().st_mode) == 0o750
    for p in out.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o640, p


@pytest.fixture
def default_signal_handlers():
    """SIGTERM/SIGHUP at their defaults for the test, whatever the run
    inherited (under `nohup` SIGHUP arrives ignored), restored after."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    for s in saved:
        signal.signal(s, signal.SIG_DFL)
    yield
    for s, h in saved.items():
        signal.signal(s, h)


def test_ignored_signal_is_left_ignored(tmp_path, default_signal_handlers):
    """A SIGHUP the user ignores (`nohup`) is not turned into a cleanup."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    with atomic_report(tmp_path / "r", "t") as report:
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        os.kill(os.getpid(), signal.SIGHUP)  # ignored: the job goes on
        (report.dir / "f.png").write_bytes(b"png")
        report.figures.append(("f.png", "c"))
    assert (tmp_path / "r" / "f.png").exists()
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_signal_cleans_up_in_process(tmp_path, sig, default_signal_handlers):
    out = tmp_path / "r"
    with pytest.raises(Terminated) as e:
        with atomic_report(out, "t") as report:
            (report.dir / "partial.png").write_bytes(b"x")
            os.kill(os.getpid(), sig)
            time.sleep(5)  # the handler interrupts this
    assert e.value.signum == sig and isinstance(e.value, KeyboardInterrupt)
    assert list(tmp_path.iterdir()) == []
    # the default handlers are back
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_DFL
    with pytest.raises(Terminated):
        write_atomic(tmp_path / "f.json", lambda p: os.kill(os.getpid(), sig))
    assert list(tmp_path.iterdir()) == []


def test_users_signal_handler_left_alone(tmp_path):
    seen = []
    old = signal.signal(signal.SIGTERM, lambda s, f: seen.append(s))
    try:
        with atomic_report(tmp_path / "r", "t"):
            os.kill(os.getpid(), signal.SIGTERM)
        assert seen == [signal.SIGTERM] and (tmp_path / "r").is_dir()
    finally:
        signal.signal(signal.SIGTERM, old)


_HELD_JOB = textwrap.dedent(
    """
    import sys, time
    import flowrep._cli._ridgelet_jobs as rj
    from flowrep._cli._main import main

    real = rj.table5

    def held(*args, **kwargs):
        out = real(*args, **kwargs)  # the real job's work
        (args[0].dir / "partial.png").write_bytes(b"half a figure")
        print("holding", flush=True)
        time.sleep(120)
        return out

    rj.table5 = held
    sys.exit(main(["reproduce", "admissibility-table", "--out", sys.argv[1]]))
    """
)


@pytest.mark.parametrize("sig", [signal.SIGTERM])
def test_sigterm_mid_job_leaves_nothing(tmp_path, sig):
    """A real `flowrep reproduce` process, signalled while its report is being
    built, removes its hidden temporary directory and exits 128 + signum."""
    parent = tmp_path / "outs"
    parent.mkdir()
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [sys.executable, "-c", _HELD_JOB, str(parent / "r")],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # wait until the job holds, mid-report
            if line.startswith("holding"):
                break
        tmps = list(parent.iterdir())
        assert len(tmps) == 1 and tmps[0].name.startswith(".r.tmp-")
        assert (tmps[0] / "partial.png").exists()  # partial output
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + sig, err
    assert "terminated by SIGTERM; no output written" in err
    assert list(parent.iterdir()) == []


@pytest.mark.parametrize("exchange", [True, False])
def test_replacement_is_a_swap(tmp_path, monkeypatch, exchange):
    """With RENAME_EXCHANGE (Linux) and without it, the old report is replaced
    whole and no temporary stays behind."""
    from flowrep._cli import _report

    if not exchange:
        monkeypatch.setattr(_report, "_libc_renameat2", lambda: None)
    out = tmp_path / "r"
    with atomic_report(out, "t") as report:
        (report.dir / "old.png").write_bytes(b"1")
        report.figures.append(("old.png", "c"))
    with atomic_report(out, "t") as report:
        report.data["v"] = 2
    assert sorted(p.name for p in out.iterdir()) == [
        MARKER,
        "index.html",
        "report.json",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2")
def test_exchange_is_atomic_on_linux(tmp_path):
    from flowrep._cli._report import _exchange

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    (b / "x").write_text("b")
    assert _exchange(a, b)
    assert (a / "x").read_text() == "b" and (b / "x").read_text() == "a"
