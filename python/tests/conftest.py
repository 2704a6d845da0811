"""Shared fixtures: the repository, the `vtwin` binary to compare against,
and the backends the tests run on (the GPU only with REQUIRE_GPU=1, where a
missing adapter is then a failure, as in the Rust suite)."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def vtwin_bin() -> str:
    path = os.environ.get("VTWIN_BIN") or str(ROOT / "target" / "debug" / "vtwin")
    if not os.path.exists(path):
        raise RuntimeError(
            f"the vtwin binary is needed to compare with the CLI: {path} is missing "
            "(cargo build --bin vtwin, or set VTWIN_BIN)"
        )
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [vtwin_bin(), *map(str, args)], capture_output=True, text=True, cwd=ROOT
    )
    if done.returncode != 0:
        raise AssertionError(f"vtwin {' '.join(map(str, args))} failed:\n{done.stderr}")
    return done


BACKENDS = ["cpu"] + (["gpu"] if os.environ.get("REQUIRE_GPU") == "1" else [])


@pytest.fixture
def root() -> Path:
    return ROOT


# A small custom model with two varying parameters: u' = -k u + s.
TWO_PARAM_SCENE = """
description = "decay with a source, two varying parameters"
[model]
kind = "custom"
species = ["u"]
reactions = { u = "-k * u + s" }
[grid]
nx = 3
ny = 1
dx = 1.0
[time]
dt = 0.01
end = 2.0
[ensemble]
members = 8
seed = 5
[parameters]
k = { dist = "uniform", low = 0.1, high = 1.0 }
s = { dist = "uniform", low = 0.0, high = 0.5 }
[initial]
background = { u = 1.0 }
[observe]
every = 50
[[observables]]
name = "u_mean"
kind = "mean"
field = "u"
"""
