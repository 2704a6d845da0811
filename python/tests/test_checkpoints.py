"""checkpoint_every= on vtwin.run/sweep/cohort/twin and vtwin.resume equal
`vtwin … --checkpoint-every N` and `vtwin resume` on the same inputs."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

import vtwin
from conftest import ROOT, TWO_PARAM_SCENE, run_cli

COHORT = ROOT / "tests" / "data" / "tiny_cohort.toml"
TWIN = ROOT / "scenes" / "lorenz63_sakov2012.toml"


# Files that record times, paths or the command line: the manifest, a
# cohort's RO-Crate metadata (its date) and the checkpoint's header.
SKIP = ("manifest.json", "ro-crate-metadata.json", "checkpoint.vtc")


def _same_folder(py_dir, cli_dir, skip=SKIP):
    """Every file but those in ``skip`` byte for byte."""
    def files(d):
        return sorted(
            os.path.relpath(os.path.join(r, n), d) for r, _, ns in os.walk(d) for n in ns
        )
    a, b = files(py_dir), files(cli_dir)
    assert a == b
    for rel in a:
        if rel in skip:
            continue
        with open(os.path.join(py_dir, rel), "rb") as f, open(os.path.join(cli_dir, rel), "rb") as g:
            assert f.read() == g.read(), f"{rel} differs from the CLI's"


@pytest.mark.parametrize("command", ["run", "sweep", "cohort", "twin"])
def test_checkpoint_every_equals_cli(tmp_path, command):
    if command == "run":
        scene = tmp_path / "two.toml"
        scene.write_text(TWO_PARAM_SCENE)
        cli = ["run", scene, "--members", 4, "--checkpoint-every", 60]
        py = lambda out: vtwin.run(vtwin.Scene.load(scene), members=4, backend="cpu",
                                   checkpoint_every=60, out=out)
    elif command == "sweep":
        scene = tmp_path / "two.toml"
        scene.write_text(TWO_PARAM_SCENE)
        cli = ["sweep", scene, "--method", "saltelli", "-n", 8, "--checkpoint-every", 60]
        py = lambda out: vtwin.sweep(vtwin.Scene.load(scene), "saltelli", 8, backend="cpu",
                                     checkpoint_every=60, out=out)
    elif command == "cohort":
        cli = ["cohort", COHORT, "--patients", 20, "--checkpoint-every", 10]
        py = lambda out: vtwin.cohort(vtwin.Scene.load(COHORT), patients=20, backend="cpu",
                                      checkpoint_every=10, out=out)
    else:
        cli = ["twin", TWIN, "--cycles", 100, "--checkpoint-every", 16]
        py = lambda out: vtwin.twin(vtwin.Scene.load(TWIN), cycles=100, backend="cpu",
                                    checkpoint_every=16, out=out)
    run_cli(*cli, "--backend", "cpu", "--out", tmp_path / "cli")
    out = py(tmp_path / "py")
    assert out.path == str(tmp_path / "py")
    _same_folder(tmp_path / "py", tmp_path / "cli")
    assert out.manifest.get("checkpoint_every", None) == json.loads(
        (tmp_path / "cli" / "manifest.json").read_text()).get("checkpoint_every", None)
    if command == "run":
        # The last checkpoint stays for `vtwin fork`, as the CLI's does.
        assert "checkpoint.vtc" in out.files
        # It records the vtwin command, so `vtwin fork` continues it as it
        # does the CLI's (the interpreter's command line would be refused).
        for who in ["py", "cli"]:
            run_cli("fork", tmp_path / who / "checkpoint.vtc", "--set", "k=0.3",
                    "--backend", "cpu", "--out", tmp_path / f"fork-{who}")
        _same_folder(tmp_path / "fork-py", tmp_path / "fork-cli")
    # Nothing kept beside the folder once it finished.
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_checkpoint_every_needs_out_and_a_count():
    scene = vtwin.Scene.load(TWIN)
    with pytest.raises(ValueError, match="out="):
        vtwin.twin(scene, cycles=4, checkpoint_every=2)
    with pytest.raises(ValueError, match="at least 1"):
        vtwin.twin(scene, cycles=4, checkpoint_every=0, out="x")
    with pytest.raises(TypeError):
        vtwin.twin(scene, cycles=4, checkpoint_every=1.5, out="x")


# A run long enough to be interrupted after its first checkpoint (the
# scene of tests/checkpoint_resume.rs: 560 steps of a 12 × 12 tumour).
def _long_scene(path):
    text = COHORT.read_text()
    for a, b in [("nx = 8\nny = 8", "nx = 12\nny = 12"), ("end = 28.0", "end = 200.0"),
                 ("dt = 0.5", "dt = 0.1"), ("every = 4", "every = 20")]:
        text = text.replace(a, b)
    path.write_text(text)
    return path


# In a child interpreter (SIGINT reaches its main thread, as Ctrl-C in a
# notebook): a checkpointed run from Python, interrupted. With "text" the
# scene is given as text (written to a temporary file by the wrapper, which
# is gone after the call: the kept folder must hold a copy). With "here"
# the child then resumes it itself, as a notebook would after Ctrl-C.
CHILD = r"""
import json, os, sys, vtwin
scene, out, how = sys.argv[1:4]
if how == "text":
    scene = vtwin.Scene.from_toml(open(scene).read())
else:
    scene = vtwin.Scene.load(scene)
try:
    vtwin.run(scene, members=16, backend="cpu", format="csv",
              checkpoint_every=16, out=out)
    print("finished", flush=True)
except KeyboardInterrupt:
    print("KeyboardInterrupt", flush=True)
if how == "here":
    parent, name = os.path.split(out)
    [kept] = [e for e in os.listdir(parent) if e.startswith("." + name + ".tmp-")]
    record = json.load(open(os.path.join(parent, kept, ".vtwin-resume", "run.json")))
    print("record", json.dumps(record["argv"]), flush=True)
    vtwin.resume(out)
    print("resumed", flush=True)
"""


@pytest.mark.parametrize("how", ["file", "text", "here", "killed"])
def test_an_interrupted_python_run_resumes_equal_to_the_cli(tmp_path, how):
    scene = _long_scene(tmp_path / "scene.toml")
    run_cli("run", scene, "--members", 16, "--backend", "cpu", "--format", "csv",
            "--checkpoint-every", 16, "--out", tmp_path / "cli")
    out = tmp_path / "out"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(scene), str(out), "text" if how == "killed" else how],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def kept():
        return [p for p in tmp_path.iterdir() if p.name.startswith(".out.tmp-")]

    try:
        deadline = time.monotonic() + 300
        while not any((k / ".vtwin-resume" / "checkpoint.vtc").is_file() for k in kept()):
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "no checkpoint"
            time.sleep(0.005)
        # "killed": the interpreter dies at once (SIGKILL), Python's
        # clean-up never runs and its temporary files are gone.
        child.send_signal(signal.SIGKILL if how == "killed" else signal.SIGINT)
        stdout, stderr = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    if how == "killed":
        assert child.returncode == -signal.SIGKILL and "finished" not in stdout, stdout
        [folder] = kept()
        # The record the library wrote before the first step names the
        # vtwin command and a copy of the scene inside the kept folder, so
        # the command line's `vtwin resume` continues it.
        record = json.loads((folder / ".vtwin-resume" / "run.json").read_text())
        assert record["argv"][0] == "run" and "--checkpoint-every" in record["argv"]
        copy = folder / ".vtwin-resume" / "inputs" / "scene.toml"
        assert record["argv"][1] == str(copy) and copy.read_text() == scene.read_text()
        ck = vtwin.cli("fork", folder / ".vtwin-resume" / "checkpoint.vtc",
                       out=tmp_path / "forked", backend="cpu")
        assert ck == 0 and (tmp_path / "forked" / "manifest.json").is_file()
        run_cli("resume", out)
        assert kept() == []
        _same_folder(out, tmp_path / "cli")
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["command"][1:3] == ["resume", str(out)]
        return
    assert "KeyboardInterrupt" in stdout, "the run finished first; make it longer\n" + stderr
    if how == "here":
        assert "resumed" in stdout, stdout + stderr
        argv = json.loads(stdout.split("record ", 1)[1].splitlines()[0])
        assert argv[0] == "run" and "--checkpoint-every" in argv
        assert kept() == []
        _same_folder(out, tmp_path / "cli")
        return
    assert not out.exists()
    [folder] = kept()
    # The resume record names the vtwin command, not the interpreter's.
    record = json.loads((folder / ".vtwin-resume" / "run.json").read_text())
    assert record["argv"][0] == "run" and "--checkpoint-every" in record["argv"]
    if how == "text":
        assert record["argv"][1] == str(folder / ".vtwin-resume" / "inputs" / "scene.toml")
    cwd = os.getcwd()
    done = vtwin.resume(out)
    assert os.getcwd() == cwd
    assert done.path == str(out) and kept() == []
    _same_folder(out, tmp_path / "cli")
    # Resuming a finished folder returns it as it is.
    again = vtwin.resume(out)
    pd.testing.assert_frame_equal(again["observables"], done["observables"])


def test_resume_continues_a_cli_run(tmp_path):
    # `vtwin run --checkpoint-every` killed by SIGTERM, continued from Python.
    scene = _long_scene(tmp_path / "scene.toml")
    args = ["run", str(scene), "--members", "16", "--backend", "cpu", "--format", "csv",
            "--checkpoint-every", "16"]
    run_cli(*args, "--out", tmp_path / "cli")
    out = tmp_path / "out"
    from conftest import vtwin_bin
    child = subprocess.Popen([vtwin_bin(), *args, "--out", str(out)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while not any((p / ".vtwin-resume" / "checkpoint.vtc").is_file()
                      for p in tmp_path.iterdir() if p.name.startswith(".out.tmp-")):
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "no checkpoint"
            time.sleep(0.005)
        child.send_signal(signal.SIGTERM)
        _, stderr = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode != 0, "the run finished first; make it longer\n" + stderr
    done = vtwin.resume(out)
    _same_folder(done.path, tmp_path / "cli")


def test_resume_with_nothing_to_resume_raises(tmp_path):
    with pytest.raises(vtwin.VtwinError, match="nothing to resume"):
        vtwin.resume(tmp_path / "none")
