"""The simulator handle: equals `vtwin sweep` member for member, and SALib
called on it reproduces `vtwin sweep`'s Sobol indices."""

import numpy as np
import pandas as pd
import pytest

import vtwin
from conftest import BACKENDS, ROOT, TWO_PARAM_SCENE, run_cli


def final_values(obs: pd.DataFrame, name: str) -> np.ndarray:
    sel = obs[obs["observable"] == name]
    last = sel[sel["step"] == sel["step"].max()].sort_values("member")
    return last["value"].to_numpy()


@pytest.mark.parametrize("backend", BACKENDS)
def test_salib_on_sim_reproduces_sweep_indices(tmp_path, backend):
    from SALib.analyze import sobol

    scene_file = tmp_path / "two.toml"
    scene_file.write_text(TWO_PARAM_SCENE)
    out = tmp_path / "sweep"
    run_cli("sweep", scene_file, "--method", "saltelli", "-n", 32, "--backend", backend,
            "--outputs", "u_mean", "--out", out)
    design = pd.read_csv(out / "design.csv")
    outputs = pd.read_csv(out / "outputs.csv")
    indices = pd.read_csv(out / "indices.csv")

    sim = vtwin.Scene.load(scene_file).simulator(backend=backend)
    obs = sim(design[["k", "s"]])
    y = final_values(obs, "u_mean")
    # The same members as the sweep's, value for value.
    np.testing.assert_array_equal(y, outputs["u_mean_final"].to_numpy())

    problem = {"num_vars": 2, "names": ["k", "s"], "bounds": [[0.1, 1.0], [0.0, 0.5]]}
    si = sobol.analyze(problem, y, calc_second_order=False, num_resamples=10, seed=1)
    got = indices[indices["output"] == "u_mean_final"].set_index("parameter")
    for i, p in enumerate(["k", "s"]):
        assert got.loc[p, "S1"] == pytest.approx(si["S1"][i], rel=1e-9, abs=1e-12)
        assert got.loc[p, "ST"] == pytest.approx(si["ST"][i], rel=1e-9, abs=1e-12)


def test_sim_reuses_its_plan_and_matches_a_run():
    scene = vtwin.Scene.from_toml(TWO_PARAM_SCENE)
    sim = scene.simulator(backend="cpu")
    run = scene.run(members=4, seed=5, backend="cpu")
    obs = sim(run.params[["k", "s"]])
    pd.testing.assert_frame_equal(obs, run.observables, check_exact=True)
    again = sim({"k": [0.5], "s": [0.0]})
    assert sim.info["calls"] == 2
    # u' = -k u: exp(-0.5 t) to forward-Euler accuracy at t = 2.
    assert final_values(again, "u_mean")[0] == pytest.approx(np.exp(-1.0), rel=1e-2)
    assert list(sim.status["status"]) == ["ok"]


def test_sim_rejects_bad_input():
    sim = vtwin.Scene.from_toml(TWO_PARAM_SCENE).simulator(backend="cpu")
    with pytest.raises(TypeError, match="DataFrame"):
        sim([[0.1, 0.2]])
    with pytest.raises(ValueError, match="row 1, parameter 'k'"):
        sim(pd.DataFrame({"k": [0.2, np.nan], "s": [0.1, 0.1]}))
    with pytest.raises(TypeError, match="numeric"):
        sim(pd.DataFrame({"k": ["a"], "s": [0.1]}))
    with pytest.raises(vtwin.VtwinError, match="unknown parameter `kk`"):
        sim(pd.DataFrame({"kk": [0.2], "s": [0.1]}))
    with pytest.raises(vtwin.VtwinError, match="`s` varies in the scene"):
        sim(pd.DataFrame({"k": [0.2]}))
    with pytest.raises(vtwin.VtwinError, match="no parameter rows"):
        sim(pd.DataFrame({"k": [], "s": []}, dtype=float))


def test_sim_progress_and_interrupt():
    import os
    import signal

    sim = vtwin.Scene.from_toml(TWO_PARAM_SCENE).simulator(backend="cpu")
    seen = []
    sim({"k": [0.3], "s": [0.1]}, progress=lambda s, t: seen.append((s, t)))
    assert seen == [(s, 200) for s in range(0, 201, 50)]

    def interrupt(step, total):
        os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        sim({"k": [0.3], "s": [0.1]}, progress=interrupt)
    # The handle is still usable after an interrupted call.
    assert len(sim({"k": [0.3], "s": [0.1]})) == 5


ABM_SCENE = ROOT / "scenes" / "tumour_abm_therapy.toml"


def _scenes():
    # A deterministic custom model, and a stochastic agent model whose
    # keyed draws and agent pools a restarted engine must reproduce.
    return [("two_param", vtwin.Scene.from_toml(TWO_PARAM_SCENE)),
            ("abm", vtwin.Scene.load(ABM_SCENE))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("which", ["two_param", "abm"])
def test_sim_restarts_one_engine_and_equals_fresh_runs(backend, which):
    scene = dict(_scenes())[which]
    params = scene.run(members=6, seed=4, backend="cpu").params.drop(columns="member")
    sim = scene.simulator(backend=backend)
    # Different rows, sizes and orders, shapes seen before coming back.
    picks = [[0, 1, 2], [3, 4, 5], [5, 1, 4], [0, 1, 2, 3, 4, 5], [2, 0, 3], [4], [5, 4, 3, 2, 1, 0]]
    for rows in picks:
        call = params.iloc[rows].reset_index(drop=True)
        got = sim(call)
        got_status = sim.status
        fresh_sim = scene.simulator(backend=backend)
        fresh = fresh_sim(call)
        pd.testing.assert_frame_equal(got, fresh, check_exact=True)
        pd.testing.assert_frame_equal(got_status, fresh_sim.status, check_exact=True)
    info = sim.info
    assert info["calls"] == len(picks)
    # One engine per row count (3, 6, 1): the other calls restarted one.
    assert info["engines_built"] == 3
    # A seed is part of an engine's shape: a new seed builds, a repeat restarts.
    call = params.iloc[[0, 1, 2]].reset_index(drop=True)
    a = sim(call, seed=99)
    assert sim.info["engines_built"] == 4
    pd.testing.assert_frame_equal(a, scene.simulator(backend=backend)(call, seed=99),
                                  check_exact=True)


def test_sim_after_an_interrupted_call_equals_a_fresh_run():
    import os
    import signal

    scene = vtwin.Scene.from_toml(TWO_PARAM_SCENE)
    sim = scene.simulator(backend="cpu")
    rows = pd.DataFrame({"k": [0.3, 0.7], "s": [0.1, 0.2]})

    def interrupt(step, total):
        if step == 100:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        sim(rows, progress=interrupt)
    # The engine stopped half-way is restarted, not continued.
    pd.testing.assert_frame_equal(sim(rows), scene.simulator(backend="cpu")(rows),
                                  check_exact=True)
    assert sim.info["engines_built"] == 1
