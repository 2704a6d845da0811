"""Bad input raises clear Python exceptions; nothing crashes the interpreter."""

import pytest

import vtwin
from vtwin import _vtwin
from conftest import ROOT, TWO_PARAM_SCENE

SCENE = ROOT / "scenes" / "decay_calibration.toml"


def test_scene_error_is_located():
    text = TWO_PARAM_SCENE.replace("nx = 3", 'nx = "two"')
    with pytest.raises(vtwin.SceneError) as e:
        vtwin.Scene.from_toml(text, name="bad.toml")
    err = e.value
    assert err.file == "bad.toml"
    assert err.line == text.splitlines().index('nx = "two"') + 1
    assert err.key == "grid.nx"
    assert "bad.toml" in str(err)


def test_missing_file():
    with pytest.raises(vtwin.SceneError, match="cannot read scene"):
        vtwin.Scene.load(ROOT / "no-such-scene.toml")


def test_unknown_parameter_override():
    with pytest.raises(vtwin.SceneError) as e:
        vtwin.Scene.load(ROOT / "scenes" / "gray_scott.toml").with_params(kk=1.0)
    assert e.value.key == "parameters.kk"
    assert "has no parameter `kk`" in str(e.value)


def test_wrong_types_and_values():
    scene = vtwin.Scene.load(SCENE)
    with pytest.raises(TypeError):
        vtwin.Scene.load(42)
    with pytest.raises(TypeError):
        scene.with_params(k="fast")
    with pytest.raises(ValueError, match="finite"):
        scene.with_params(k=float("nan"))
    with pytest.raises(TypeError, match="members"):
        scene.run(members="3")
    with pytest.raises(TypeError, match="members"):
        scene.run(members=True)
    with pytest.raises(ValueError, match="members"):
        scene.run(members=0)
    with pytest.raises(ValueError, match="backend"):
        scene.run(backend="tpu")
    with pytest.raises(TypeError, match="progress"):
        scene.run(progress=3)
    with pytest.raises(vtwin.SceneError, match="arm"):
        scene.run(arm="no-such-arm", backend="cpu")


def test_native_functions_refuse_foreign_objects():
    with pytest.raises(TypeError, match="run handle"):
        _vtwin.run_tables(object())
    scene = vtwin.Scene.load(SCENE)
    with pytest.raises(TypeError, match="run handle"):
        _vtwin.run_tables(scene._h)
    with pytest.raises(TypeError):
        _vtwin.scene_load()
    with pytest.raises(TypeError, match="members"):
        _vtwin.run(scene._h, -1, None, None, "cpu", False, None, None)
