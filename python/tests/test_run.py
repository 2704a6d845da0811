"""Scene.run against `vtwin run`: same scene, seed and backend give the same
tables (values and Parquet bytes), and the saved folder is the CLI's."""

import json
import os
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import vtwin
from conftest import BACKENDS, ROOT, run_cli

SCENE = ROOT / "scenes" / "decay_calibration.toml"


@pytest.mark.parametrize("backend", BACKENDS)
def test_run_equals_cli(tmp_path, backend):
    cli_dir = tmp_path / "cli"
    run_cli("run", SCENE, "--members", 6, "--seed", 11, "--backend", backend, "--out", cli_dir)
    run = vtwin.Scene.load(SCENE).run(members=6, seed=11, backend=backend)
    for name in ["params", "observables", "status"]:
        cli = pd.read_parquet(cli_dir / f"{name}.parquet")
        py = getattr(run, name)
        pd.testing.assert_frame_equal(py, cli, check_exact=True)
    saved = run.save(tmp_path / "py")
    for name in ["params", "observables", "status"]:
        a = (cli_dir / f"{name}.parquet").read_bytes()
        b = open(os.path.join(saved, f"{name}.parquet"), "rb").read()
        assert a == b, f"{name}.parquet differs from the CLI's"
    cm = json.loads((cli_dir / "manifest.json").read_text())
    pm = json.loads(open(os.path.join(saved, "manifest.json")).read())
    for key in ["seed", "members", "arm", "plan_sha256", "backend", "steps", "scene"]:
        assert pm[key] == cm[key], key
    assert run.manifest["plan_sha256"] == cm["plan_sha256"]


def test_observables_match_the_analytic_decay():
    # u' = -k u from u = 1 by forward Euler with dt = 0.01: u_n = (1 - k dt)^n,
    # in f32 over at most 800 steps (rtol 1e-4 covers the rounding).
    run = vtwin.Scene.load(SCENE).run(members=4, seed=3, backend="cpu")
    obs = run.observables.merge(run.params, on="member")
    expect = (1.0 - obs["k"] * 0.01) ** obs["step"]
    np.testing.assert_allclose(obs["value"], expect, rtol=1e-4)
    assert (run.status["status"] == "ok").all()


def test_fields_and_save_fields(tmp_path):
    run = vtwin.Scene.load(SCENE).run(members=3, seed=1, backend="cpu", save_fields=True)
    f = run.fields
    assert f.shape == (3, 1, 1, 3) and f.dtype == np.float32
    last = run.observables[run.observables["step"] == run.observables["step"].max()]
    np.testing.assert_allclose(f.mean(axis=(1, 2, 3)), last["value"].to_numpy(), rtol=1e-6)
    saved = run.save(tmp_path / "out")
    np.testing.assert_array_equal(np.load(os.path.join(saved, "fields.npy")), f)
    assert vtwin.Scene.load(SCENE).run(members=2, backend="cpu").fields is None


def test_save_refuses_existing_folder_without_force(tmp_path):
    run = vtwin.Scene.load(SCENE).run(members=2, backend="cpu")
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("user data")
    with pytest.raises(vtwin.VtwinError):
        run.save(out)
    with pytest.raises(vtwin.VtwinError):
        run.save(out, force=True)  # not a folder vtwin wrote
    assert (out / "notes.txt").read_text() == "user data"
    first = run.save(tmp_path / "run")
    assert run.save(first, force=True) == first


def test_overrides_members_seed_params():
    scene = vtwin.Scene.load(SCENE)
    a = scene.with_members(5).with_seed(9).run(backend="cpu")
    b = scene.run(members=5, seed=9, backend="cpu")
    pd.testing.assert_frame_equal(a.observables, b.observables)
    fixed = scene.with_params(k=0.25).run(members=3, backend="cpu")
    assert (fixed.params["k"] == 0.25).all()
    plan = scene.with_params(k={"dist": "uniform", "low": 0.3, "high": 0.4}).check(members=7)
    ks = [row[plan["parameters"].index("k")] for row in plan["member_params"]]
    assert len(ks) == 7 and all(0.3 <= k <= 0.4 for k in ks)


def test_check_returns_the_plan():
    plan = vtwin.Scene.load(SCENE).check(members=4, seed=2)
    assert plan["members"] == 4 and plan["seed"] == 2
    assert plan["steps"] == 800 and plan["observation_steps"][-1] == 800
    assert plan["model"] == "custom" and plan["parameters"][0] == "k"
    assert [o["name"] for o in plan["observables"]] == ["u_mean"]


def test_progress_callback_sees_every_observation():
    seen = []
    vtwin.Scene.load(SCENE).run(members=2, backend="cpu", progress=lambda s, t: seen.append((s, t)))
    assert seen[0] == (0, 800) and seen[-1] == (800, 800)
    assert [s for s, _ in seen] == list(range(0, 801, 100))


def test_ctrl_c_raises_keyboard_interrupt_and_writes_nothing(tmp_path):
    calls = []

    def interrupt(step, total):
        calls.append(step)
        if step == 100:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        vtwin.Scene.load(SCENE).run(members=2, backend="cpu", progress=interrupt)
    assert calls[-1] == 100  # stopped at the next check, not at the end
    assert list(tmp_path.iterdir()) == []


def test_callback_errors_propagate():
    def boom(step, total):
        raise RuntimeError("from the callback")

    with pytest.raises(RuntimeError, match="from the callback"):
        vtwin.Scene.load(SCENE).run(members=2, backend="cpu", progress=boom)


def assert_same_folder(py_dir, cli_dir):
    """Every file byte for byte (the manifests aside: times, host, package)."""
    def files(d):
        return sorted(str(p.relative_to(d)) for p in Path(d).rglob("*") if p.is_file())

    names = files(cli_dir)
    assert files(py_dir) == names
    for name in names:
        if name == "manifest.json":
            continue
        a = (Path(cli_dir) / name).read_bytes()
        b = (Path(py_dir) / name).read_bytes()
        assert a == b, f"{name} differs from the CLI's"
    cm = json.loads((Path(cli_dir) / "manifest.json").read_text())
    pm = json.loads((Path(py_dir) / "manifest.json").read_text())
    assert pm["outputs"] == cm["outputs"]
    for key in ["seed", "members", "arm", "plan_sha256", "steps", "format", "montage"]:
        assert pm.get(key) == cm.get(key), key
    assert pm.get("arms") == cm.get("arms")


TUMOUR = ROOT / "scenes" / "tumour_rd.toml"
ABM = ROOT / "scenes" / "tumour_abm_therapy.toml"


@pytest.mark.parametrize("backend", BACKENDS)
def test_arm_all_equals_cli(tmp_path, backend):
    cli_dir = tmp_path / "cli"
    run_cli("run", TUMOUR, "--members", 3, "--seed", 5, "--arm", "all", "--backend", backend,
            "--out", cli_dir)
    run = vtwin.Scene.load(TUMOUR).run(members=3, seed=5, arm="all", backend=backend)
    arms = vtwin.Scene.load(TUMOUR).arms
    assert len(arms) >= 2
    assert list(run.observables["arm"].unique()) == arms
    for name in ["params", "observables", "status"]:
        cli = pd.read_parquet(cli_dir / f"{name}.parquet")
        pd.testing.assert_frame_equal(getattr(run, name), cli, check_exact=True)
    # Each arm's rows are that arm's own run.
    one = vtwin.Scene.load(TUMOUR).run(members=3, seed=5, arm=arms[1], backend=backend)
    mine = run.observables[run.observables["arm"] == arms[1]].drop(columns="arm")
    pd.testing.assert_frame_equal(mine.reset_index(drop=True), one.observables, check_exact=True)
    assert run.manifest["arms"] == arms
    assert_same_folder(run.save(tmp_path / "py"), cli_dir)
    with pytest.raises(vtwin.VtwinError, match="not supported"):
        vtwin.Scene.load(TUMOUR).run(members=2, arm="all", save_fields=True, backend="cpu")


@pytest.mark.parametrize("scene", [TUMOUR, ABM], ids=["grid", "agents"])
def test_saved_fields_folder_equals_cli_with_montage(tmp_path, scene):
    cli_dir = tmp_path / "cli"
    run_cli("run", scene, "--members", 3, "--seed", 8, "--save-fields", "--backend", "cpu",
            "--out", cli_dir)
    assert (cli_dir / "montage.png").exists()
    run = vtwin.Scene.load(scene).run(members=3, seed=8, save_fields=True, backend="cpu")
    saved = run.save(tmp_path / "py")
    assert_same_folder(saved, cli_dir)
    np.testing.assert_array_equal(np.load(cli_dir / "fields.npy"), run.fields)


def test_save_writes_the_scenes_csv_format_as_the_cli(tmp_path):
    from conftest import TWO_PARAM_SCENE

    scene = tmp_path / "csv.toml"
    scene.write_text(TWO_PARAM_SCENE + '[output]\nformat = "csv"\n')
    run_cli("run", scene, "--members", 4, "--backend", "cpu", "--out", tmp_path / "cli")
    run = vtwin.Scene.load(scene).run(members=4, backend="cpu")
    saved = run.save(tmp_path / "py")
    assert (Path(saved) / "observables.csv").is_file()
    assert_same_folder(saved, tmp_path / "cli")
