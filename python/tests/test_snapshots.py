"""Scene.run(every=, montage_field=, montage_scale=) and Run.save equal
`vtwin run --save-fields --every K --montage-field F --montage-scale S`, and
vtwin.run (the command's folder) equals it too."""

import json
import os

import numpy as np
import pytest

import vtwin
from conftest import ROOT, run_cli

# Two fields (u, v) on a small grid with a little diffusion, 200 steps
# observed every 20: 11 observations.
TWO_FIELDS = """
[model]
kind = "custom"
species = ["u", "v"]
reactions = { u = "-k * u", v = "k * u - 0.1 * v" }
diffusion = { u = "Du", v = "Dv" }
[grid]
nx = 6
ny = 4
dx = 1.0
[time]
dt = 0.05
end = 10.0
[ensemble]
members = 3
seed = 7
[parameters]
k = { dist = "uniform", low = 0.1, high = 1.0 }
Du = 0.1
Dv = 0.05
[initial]
background = { u = 1.0, v = 0.0 }
noise = 0.05
noise_species = ["u"]
[observe]
every = 20
[[observables]]
name = "v_mean"
kind = "mean"
field = "v"
"""


def _files(d):
    return sorted(os.path.relpath(os.path.join(r, n), d) for r, _, ns in os.walk(d) for n in ns)


def _same_files(a, b):
    assert _files(a) == _files(b)
    for rel in _files(a):
        if rel != "manifest.json":
            assert open(os.path.join(a, rel), "rb").read() == open(os.path.join(b, rel), "rb").read(), rel


@pytest.fixture
def scene_file(tmp_path):
    path = tmp_path / "two_fields.toml"
    path.write_text(TWO_FIELDS)
    return path


def test_every_and_montage_field_equal_cli(tmp_path, scene_file):
    run_cli("run", scene_file, "--backend", "cpu", "--save-fields", "--every", 4,
            "--montage-field", "v", "--montage-scale", "per-panel", "--out", tmp_path / "cli")
    run = vtwin.Scene.load(scene_file).run(backend="cpu", save_fields=True, every=4,
                                           montage_field="v", montage_scale="per-panel")
    saved = run.save(tmp_path / "py")
    _same_files(saved, tmp_path / "cli")
    # Observations 0, 4, 8 and the last (10) of 11: steps 0, 80, 160, 200.
    snaps = run.snapshots
    assert list(snaps) == [0, 80, 160, 200]
    for step, fields in snaps.items():
        assert fields.shape == (3, 2, 4, 6) and fields.dtype == np.float32
        np.testing.assert_array_equal(
            fields, np.load(tmp_path / "cli" / f"fields_t{step:03d}.npy"))
    np.testing.assert_array_equal(snaps[200], run.fields)
    cm = json.loads((tmp_path / "cli" / "manifest.json").read_text())
    assert run.manifest["montage"] == cm["montage"] == {
        "field": "v", "scale": "per-panel", "every": 4}
    assert vtwin.Scene.load(scene_file).run(backend="cpu").snapshots == {}


def test_run_folder_command_equals_cli(tmp_path, scene_file):
    run_cli("run", scene_file, "--backend", "cpu", "--save-fields", "--every", 5,
            "--montage-field", "v", "--out", tmp_path / "cli")
    out = vtwin.run(vtwin.Scene.load(scene_file), backend="cpu", save_fields=True, every=5,
                    montage_field="v", out=tmp_path / "py")
    _same_files(out.path, tmp_path / "cli")
    assert sorted(k for k in out.arrays if k.startswith("fields_t")) == [
        "fields_t000", "fields_t100", "fields_t200"]


def test_bad_snapshot_options_raise(scene_file):
    scene = vtwin.Scene.load(scene_file)
    with pytest.raises(vtwin.VtwinError, match="save_fields"):
        scene.run(backend="cpu", every=2)
    with pytest.raises(ValueError, match="every"):
        scene.run(backend="cpu", save_fields=True, every=0)
    with pytest.raises(vtwin.VtwinError, match="u, v"):
        scene.run(backend="cpu", save_fields=True, montage_field="w")
    with pytest.raises(ValueError, match="montage_scale"):
        scene.run(backend="cpu", save_fields=True, montage_scale="log")
