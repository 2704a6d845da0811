"""The CLI's methods from Python equal the commands' own outputs."""

import json
import os

import pandas as pd
import pytest

import vtwin
from conftest import ROOT, TWO_PARAM_SCENE, run_cli


def test_sweep_equals_cli(tmp_path):
    scene_file = tmp_path / "two.toml"
    scene_file.write_text(TWO_PARAM_SCENE)
    run_cli("sweep", scene_file, "--method", "saltelli", "-n", 8, "--backend", "cpu",
            "--out", tmp_path / "cli")
    out = vtwin.sweep(vtwin.Scene.load(scene_file), "saltelli", 8, backend="cpu")
    for name in ["design", "outputs", "indices"]:
        pd.testing.assert_frame_equal(out[name], pd.read_csv(tmp_path / "cli" / f"{name}.csv"))
    assert out.manifest["design"]["rows"] == 32


def test_sweep_of_an_edited_scene_writes_its_text(tmp_path):
    scene = vtwin.Scene.from_toml(TWO_PARAM_SCENE).with_params(s=0.0)
    out = vtwin.sweep(scene, "saltelli", 8, backend="cpu", outputs=["u_mean"])
    idx = out["indices"].set_index("parameter")
    assert list(idx.index) == ["k"]  # s is fixed now


def test_twin_equals_cli(tmp_path):
    scene = ROOT / "scenes" / "lorenz63_sakov2012.toml"
    run_cli("twin", scene, "--cycles", 100, "--backend", "cpu", "--out", tmp_path / "cli")
    out = vtwin.twin(vtwin.Scene.load(scene), cycles=100, backend="cpu", out=tmp_path / "py")
    cli = vtwin.Outputs(str(tmp_path / "cli"))
    assert out.keys() and sorted(out.keys()) == sorted(cli.keys())
    for name in out.keys():
        pd.testing.assert_frame_equal(out[name], cli[name], check_exact=True)


def test_design_and_analyze_equal_cli(tmp_path):
    params = tmp_path / "p.toml"
    params.write_text('[parameters]\na = { dist = "uniform", low = 0, high = 1 }\n'
                      'b = { dist = "uniform", low = 0, high = 2 }\n')
    d = vtwin.design(params, "saltelli", 16, seed=3)
    run_cli("design", "--params", params, "--method", "saltelli", "-n", 16, "--seed", 3,
            "-o", tmp_path / "d.csv")
    pd.testing.assert_frame_equal(d, pd.read_csv(tmp_path / "d.csv"))
    y = pd.DataFrame({"y": 3 * d["a"]})
    y.to_csv(tmp_path / "y.csv", index=False)
    idx = vtwin.analyze("sobol", params, d, y)
    run_cli("analyze", "sobol", "--params", params, "--design", tmp_path / "d.csv",
            "--outputs", tmp_path / "y.csv", "-o", tmp_path / "i.csv")
    pd.testing.assert_frame_equal(idx, pd.read_csv(tmp_path / "i.csv"))
    # y ignores b: f_A - f_AB_b is exactly 0, so ST_b is exactly 0.
    assert idx.set_index("parameter").loc["b", "ST"] == 0.0


def test_command_errors_raise():
    import pytest

    with pytest.raises(vtwin.VtwinError):
        vtwin.sweep(ROOT / "no-such.toml", "saltelli", 8, backend="cpu")
    with pytest.raises(vtwin.VtwinError):
        vtwin.sweep(ROOT / "scenes" / "decay_calibration.toml", "saltelli", 8, bogus_flag=1)


def test_assimilate_of_a_twins_observations_reproduces_it(tmp_path):
    scene = vtwin.Scene.load(ROOT / "scenes" / "lorenz63_sakov2012.toml")
    tw = vtwin.twin(scene, cycles=100, backend="cpu")
    obs = tw["observations"]
    da = vtwin.assimilate(scene, obs, cycles=100, backend="cpu")
    cols = ["cycle", "variable", "forecast_mean", "analysis_mean", "analysis_sd"]
    cols = [c for c in cols if c in tw["analysis"].columns]
    pd.testing.assert_frame_equal(da["analysis"][cols], tw["analysis"][cols], check_exact=True)


def test_patient_assimilate_and_score_equal_cli(tmp_path):
    obs = pd.DataFrame({
        "patient": ["A", "B", "A", "B", "C", "C"],
        "time": [1.0, 0.7, 2.5, 3.1, 1.2, 2.2],
        "observable": ["volume"] * 6,
        "location": [""] * 6,
        "value": [0.55, 0.42, 0.66, 0.30, 0.0, 0.004],
        "sd": [float("nan")] * 6,
    })
    at = pd.DataFrame({"patient": ["A", "B", "C"], "time": [3.5, 4.0, 4.0]})
    truth = pd.DataFrame({
        "patient": ["A", "B", "C"], "time": [3.5, 4.0, 4.0],
        "observable": ["volume"] * 3, "value": [0.7, 0.28, 0.003],
    })
    for name, df in [("obs", obs), ("at", at), ("truth", truth)]:
        df.to_csv(tmp_path / f"{name}.csv", index=False)
    scene = ROOT / "tests" / "data" / "patients_growth.toml"
    run_cli("assimilate", scene, "--obs", tmp_path / "obs.csv", "--forecast-at",
            tmp_path / "at.csv", "--backend", "cpu", "--format", "csv", "--out", tmp_path / "cli")
    run_cli("score", tmp_path / "cli", "--truth", tmp_path / "truth.csv", "--obs",
            tmp_path / "obs.csv", "--json", tmp_path / "cli.json")
    da = vtwin.assimilate(vtwin.Scene.load(scene), obs, forecast_at=at, backend="cpu",
                          format="csv")
    pd.testing.assert_frame_equal(da["forecast"], pd.read_csv(tmp_path / "cli" / "forecast.csv"))
    s = vtwin.score(da, truth, obs=obs)
    import json
    ref = json.loads((tmp_path / "cli.json").read_text())
    assert s["overall"] == ref["overall"]
    assert s["overall"]["n"] == 3


# A long run (a 128 × 128 grid for 10⁶ steps, observed every 5 steps: hours
# uninterrupted) for the Ctrl-C tests.
LONG_SCENE = """
[model]
kind = "custom"
species = ["u"]
reactions = { u = "-k * u" }
[grid]
nx = 128
ny = 128
dx = 1.0
[time]
dt = 0.001
end = 1000.0
[ensemble]
members = 4
seed = 1
[parameters]
k = 0.5
[initial]
background = { u = 1.0 }
[observe]
every = 5
[[observables]]
name = "u_mean"
kind = "mean"
field = "u"
"""

# Run in a child interpreter (SIGINT goes to its main thread, as Ctrl-C in a
# notebook does): starts the command, reports KeyboardInterrupt and then
# that a small command still works in the same process.
CHILD = r"""
import os, sys, time, vtwin
scene, out, call, small, small_out = sys.argv[1:6]
t0 = time.monotonic()
try:
    if call == "run":
        vtwin.cli("run", scene, backend="cpu", out=out)
    elif call == "sweep":
        vtwin.sweep(vtwin.Scene.load(scene), "saltelli", 64, backend="cpu", out=out)
    else:  # the assimilation ensemble's loop (twin::ensemble), not record's
        vtwin.twin(vtwin.Scene.load(scene), cycles=10**6, backend="cpu", out=out)
    print("finished", flush=True)
except KeyboardInterrupt:
    print(f"KeyboardInterrupt after {time.monotonic() - t0:.1f} s", flush=True)
# The stop request is withdrawn: the next command runs and writes its folder.
vtwin.cli("run", small, members=2, backend="cpu", out=small_out)
print("still works", os.path.isfile(os.path.join(small_out, "manifest.json")), flush=True)
"""


@pytest.mark.parametrize("call", ["run", "sweep", "twin"])
def test_ctrl_c_stops_a_command_and_writes_no_folder(tmp_path, call):
    import signal
    import subprocess
    import sys
    import time

    scene = tmp_path / "long.toml"
    text = LONG_SCENE
    if call == "sweep":
        text = text.replace("k = 0.5", 'k = { dist = "uniform", low = 0.1, high = 1.0 }')
    scene.write_text(text)
    if call == "twin":
        scene = ROOT / "scenes" / "lorenz63_sakov2012.toml"
    out = tmp_path / "out"
    small = tmp_path / "small.toml"
    small.write_text(TWO_PARAM_SCENE)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(scene), str(out), call, str(small),
         str(tmp_path / "small")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        # Interrupt once the command has made its temporary output folder:
        # the library is working, not merely starting.
        deadline = time.monotonic() + 120
        while not any(p.name.startswith(".out.") for p in tmp_path.iterdir()):
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the command never started its folder"
            time.sleep(0.05)
        time.sleep(0.5)
        child.send_signal(signal.SIGINT)
        stdout, stderr = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert "KeyboardInterrupt after" in stdout, stdout + stderr
    assert "finished" not in stdout
    assert "still works True" in stdout, stdout + stderr
    # Neither the output folder nor its temporary sibling is left.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.toml", "small", "small.toml"]


def test_every_other_command_through_cli(tmp_path):
    """``vtwin.cli`` reaches the commands without their own wrapper
    (report, check, fork, …): the report of a run written from Python is
    byte for byte the CLI's, ``check`` of a good scene exits 0, and a bad
    one raises the same located error as the CLI."""
    scene = ROOT / "scenes" / "gray_scott.toml"
    run_cli("run", scene, "--members", 2, "--backend", "cpu", "--format", "csv",
            "--out", tmp_path / "run")
    run_cli("report", tmp_path / "run", "--out", tmp_path / "cli.html")
    assert vtwin.cli("report", tmp_path / "run", out=tmp_path / "py.html") == 0
    assert (tmp_path / "py.html").read_bytes() == (tmp_path / "cli.html").read_bytes()
    assert vtwin.cli("check", scene) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text(scene.read_text().replace("[grid]", "[grid]\nnx = -3\n", 1))
    with pytest.raises(vtwin.SceneError):
        vtwin.cli("check", bad)


def _same_files(py_dir, cli_dir, skip=("manifest.json",)):
    """Every file but ``skip`` (times, paths) byte for byte."""
    names = sorted(os.listdir(py_dir))
    assert names == sorted(os.listdir(cli_dir))
    for name in names:
        if name not in skip:
            assert (py_dir / name).read_bytes() == (cli_dir / name).read_bytes(), name


def test_calibrate_equals_cli_byte_for_byte(tmp_path):
    scene = ROOT / "scenes" / "decay_calibration.toml"
    data = pd.read_csv(ROOT / "tests" / "data" / "decay_data.csv", comment="#")
    # The CSV the wrapper writes for a DataFrame (targets.csv names source
    # lines, so the CLI reads the same text).
    data.to_csv(tmp_path / "data.csv", index=False)
    run_cli("calibrate", scene, "--data", tmp_path / "data.csv", "--method", "abc-smc",
            "--backend", "cpu", "--out", tmp_path / "cli")
    from_df = vtwin.calibrate(vtwin.Scene.load(scene), data, method="abc-smc", backend="cpu",
                              out=tmp_path / "df")
    from_path = vtwin.calibrate(scene, tmp_path / "data.csv", method="abc-smc", backend="cpu",
                                out=tmp_path / "path")
    for out in [from_df, from_path]:
        _same_files(tmp_path / os.path.basename(out.path), tmp_path / "cli")
    assert {"posterior", "posterior_summary", "abc_generations"} <= set(from_df.keys())
    # The manifest names the vtwin command, as the CLI's does, not the
    # interpreter's command line.
    cli = json.loads((tmp_path / "cli" / "manifest.json").read_text())
    assert from_path.manifest["command"][1:3] == cli["command"][1:3] == ["calibrate", str(scene)]
    assert from_path.manifest["command"][0] == "vtwin"
    assert from_path.manifest["outputs"] == cli["outputs"]


def test_command_progress_is_reported():
    calls = []
    out = vtwin.twin(vtwin.Scene.load(ROOT / "scenes" / "lorenz63_sakov2012.toml"), cycles=100,
                     backend="cpu", progress=lambda done, total: calls.append((done, total)))
    assert out.exit_code == 0
    # At least the end (a call shorter than one poll sees only that), in
    # order, counted in the command's unit (here cycles).
    assert calls and calls[-1] == (100, 100)
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))
    with pytest.raises(TypeError, match="progress"):
        vtwin.sweep(ROOT / "scenes" / "decay_calibration.toml", "saltelli", 8, progress=3)


# Two commands at once in a child interpreter: the main thread's is
# interrupted (Ctrl-C); the other thread's goes on (a stop flag per call,
# not per process) until its own progress callback stops it.
CONCURRENT = r"""
import sys, threading, vtwin
scene, out_main, out_other = sys.argv[1:4]
main_stopped, started = threading.Event(), threading.Event()
seen = {}
class Enough(Exception):
    pass
def other_progress(done, total):
    started.set()
    if main_stopped.is_set():
        seen["after"] = done
        raise Enough()
def other():
    try:
        vtwin.cli("run", scene, backend="cpu", out=out_other, progress=other_progress)
        seen["other"] = "finished"
    except Enough:
        seen["other"] = "stopped by its callback"
    except BaseException as e:
        seen["other"] = f"{type(e).__name__}: {e}"
t = threading.Thread(target=other)
t.start()
started.wait()
print("other started", flush=True)
try:
    vtwin.cli("run", scene, backend="cpu", out=out_main)
    print("finished", flush=True)
except KeyboardInterrupt:
    print("KeyboardInterrupt", flush=True)
main_stopped.set()
t.join()
print("other:", seen["other"], flush=True)
"""


def test_ctrl_c_stops_its_own_call_only(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    scene = tmp_path / "long.toml"
    scene.write_text(LONG_SCENE)
    child = subprocess.Popen(
        [sys.executable, "-c", CONCURRENT, str(scene), str(tmp_path / "main"),
         str(tmp_path / "other")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not any(p.name.startswith(".main.") for p in tmp_path.iterdir()):
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the command never started its folder"
            time.sleep(0.05)
        time.sleep(0.5)
        child.send_signal(signal.SIGINT)
        stdout, stderr = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert "KeyboardInterrupt" in stdout and "finished" not in stdout, stdout + stderr
    # The other command ran on after the interrupt; a process-wide flag
    # would have stopped it with "interrupted".
    assert "other: stopped by its callback" in stdout, stdout + stderr
    # A callback's exception stops its command as Ctrl-C does: no folders.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.toml"]
