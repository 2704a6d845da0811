"""vtwin.assimilate's patient-run options (population_prior, events, shard)
and vtwin.merge equal `vtwin assimilate` / `vtwin merge` on the same inputs."""

import pandas as pd
import pytest

import vtwin
from conftest import ROOT, run_cli

SCENE = ROOT / "tests" / "data" / "patients_growth.toml"

OBS = pd.DataFrame({
    "patient": ["A", "B", "A", "B", "C", "C", "D", "D"],
    "time": [1.0, 0.7, 2.5, 3.1, 1.2, 2.2, 0.5, 1.5],
    "observable": ["volume"] * 8,
    "location": [""] * 8,
    "value": [0.55, 0.42, 0.66, 0.30, 0.0, 0.004, 0.5, 0.45],
    "sd": [float("nan")] * 8,
})
AT = pd.DataFrame({"patient": ["A", "B", "C", "D"], "time": [3.5, 4.0, 4.0, 3.0]})
# Patient A gets a dose of u at t = 1.5, between its two readings.
EVENTS = pd.DataFrame({"patient": ["A"], "time": [1.5], "species": ["u"], "amount": [0.3]})


def _files(tmp_path):
    for name, df in [("obs", OBS), ("at", AT), ("events", EVENTS)]:
        df.to_csv(tmp_path / f"{name}.csv", index=False)


def _cli(tmp_path, name, *extra):
    run_cli("assimilate", SCENE, "--obs", tmp_path / "obs.csv", "--forecast-at",
            tmp_path / "at.csv", "--backend", "cpu", "--format", "csv",
            "--out", tmp_path / name, *extra)
    return vtwin.Outputs(str(tmp_path / name))


def _assert_same_tables(py, cli):
    assert py.keys() and sorted(py.keys()) == sorted(cli.keys())
    for name in py.keys():
        pd.testing.assert_frame_equal(py[name], cli[name], check_exact=True, obj=name)


@pytest.mark.parametrize("prior", ["pooled", "leave-one-out"])
def test_population_prior_equals_cli(tmp_path, prior):
    _files(tmp_path)
    cli = _cli(tmp_path, "cli", "--population-prior", prior)
    py = vtwin.assimilate(vtwin.Scene.load(SCENE), OBS, forecast_at=AT, backend="cpu",
                          format="csv", population_prior=prior)
    _assert_same_tables(py, cli)
    # The prior reached the command: the forecasts differ from the scene
    # prior's (each patient's posterior is pulled towards the others').
    none = vtwin.assimilate(vtwin.Scene.load(SCENE), OBS, forecast_at=AT, backend="cpu",
                            format="csv")
    assert not py["forecast"].equals(none["forecast"])


def test_events_equal_cli(tmp_path):
    _files(tmp_path)
    cli = _cli(tmp_path, "cli", "--events", tmp_path / "events.csv")
    py = vtwin.assimilate(SCENE, OBS, forecast_at=AT, backend="cpu", format="csv",
                          events=EVENTS)
    _assert_same_tables(py, cli)
    # The same events given as a path.
    by_path = vtwin.assimilate(SCENE, OBS, forecast_at=AT, backend="cpu", format="csv",
                               events=tmp_path / "events.csv")
    _assert_same_tables(by_path, cli)
    # Only patient A's forecast moves; the others' are the event-free ones.
    plain = vtwin.assimilate(SCENE, OBS, forecast_at=AT, backend="cpu", format="csv")
    f, g = py["forecast"].set_index("patient"), plain["forecast"].set_index("patient")
    assert not f.loc[["A"]].equals(g.loc[["A"]])
    pd.testing.assert_frame_equal(f.loc[["B", "C", "D"]], g.loc[["B", "C", "D"]],
                                  check_exact=True)


def test_shards_and_merge_equal_cli(tmp_path):
    _files(tmp_path)
    cli = [_cli(tmp_path, f"cli{i}", "--shard", f"{i}/2") for i in range(2)]
    py = [
        vtwin.assimilate(SCENE, OBS, forecast_at=AT, backend="cpu", format="csv", shard=s)
        for s in [(0, 2), "1/2"]
    ]
    for p, c in zip(py, cli):
        _assert_same_tables(p, c)
    run_cli("merge", tmp_path / "cli0", tmp_path / "cli1", "--out", tmp_path / "merged")
    merged = vtwin.merge(py)
    _assert_same_tables(merged, vtwin.Outputs(str(tmp_path / "merged")))
    # A patient's results never depend on the shard.
    whole = vtwin.assimilate(SCENE, OBS, forecast_at=AT, backend="cpu", format="csv")
    pd.testing.assert_frame_equal(merged["forecast"], whole["forecast"], check_exact=True)


def test_bad_patient_options_raise():
    with pytest.raises(ValueError, match="population_prior"):
        vtwin.assimilate(SCENE, OBS, population_prior="everyone")
    with pytest.raises(TypeError, match="shard"):
        vtwin.assimilate(SCENE, OBS, shard=[0, 2])
    # The command's own refusal: a shard cannot learn from every patient.
    with pytest.raises(vtwin.VtwinError):
        vtwin.assimilate(SCENE, OBS, forecast_at=AT, backend="cpu", shard="0/2",
                         population_prior="pooled")
