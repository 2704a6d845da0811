"""Calls per second of `scene.simulator(...)`: one handle reusing its
engine (what `sim(params_df)` does) against a new handle per call (a new
engine per call: what every call cost before engines were kept).

    python python/bench/sim_calls.py [--backend cpu|gpu] [--calls N] [--rows R] [SCENE]

Prints one line per mode. Timings only; correctness is in python/tests.
"""

import argparse
import time

import numpy as np
import pandas as pd

import vtwin

SMALL = """
description = "bench: decay with a source on a 16 x 16 grid, 100 steps"
[model]
kind = "custom"
species = ["u"]
reactions = { u = "-k * u + s" }
[grid]
nx = 16
ny = 16
dx = 1.0
[time]
dt = 0.01
end = 1.0
[ensemble]
members = 8
seed = 5
[parameters]
k = { dist = "uniform", low = 0.1, high = 1.0 }
s = { dist = "uniform", low = 0.0, high = 0.5 }
[initial]
background = { u = 1.0 }
[observe]
every = 25
[[observables]]
name = "u_mean"
kind = "mean"
field = "u"
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("scene", nargs="?")
    ap.add_argument("--backend", default="cpu")
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--rows", type=int, default=8)
    a = ap.parse_args()
    scene = vtwin.Scene.load(a.scene) if a.scene else vtwin.Scene.from_toml(SMALL)
    rng = np.random.default_rng(1)
    base = scene.run(members=a.rows, seed=1, backend="cpu").params.drop(columns="member")
    batches = [base.sample(frac=1.0, random_state=int(rng.integers(1 << 31))).reset_index(drop=True)
               for _ in range(a.calls)]

    sim = scene.simulator(backend=a.backend)
    sim(batches[0])  # open the device and build the engine outside the timing
    t = time.perf_counter()
    for b in batches:
        sim(b)
    kept = a.calls / (time.perf_counter() - t)

    scene.simulator(backend=a.backend)(batches[0])
    t = time.perf_counter()
    for b in batches:
        scene.simulator(backend=a.backend)(b)
    fresh = a.calls / (time.perf_counter() - t)
    print(f"backend {a.backend}, {a.rows} rows per call, {a.calls} calls, "
          f"engines built by the kept handle: {sim.info['engines_built']}")
    print(f"new engine per call : {fresh:8.2f} calls/s")
    print(f"engine kept (restart): {kept:8.2f} calls/s  ({kept / fresh:.1f}x)")


if __name__ == "__main__":
    main()
