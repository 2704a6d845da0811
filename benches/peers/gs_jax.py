#!/usr/bin/env python3
"""Gray-Scott ensemble peer in JAX: one member's step, `vmap`ped over
members, the time loop in `lax.fori_loop`, all under `jit`.

Same pinned problem as gs_numpy.py (f32, periodic 5-point Laplacian, dx = 1,
dt = 1, Du = 0.2097, Dv = 0.105, k = 0.06, F = 0.02 + 0.04*m/M, 8x8 centre
square u = 0.5, v = 0.25). Compilation is excluded from the timings: one
untimed warm-up run compiles for the exact shapes first. XLA may fuse
multiply-adds, so the checksum agrees with vtwin's to f32 rounding, not
bit for bit.

Prints one JSON line like gs_numpy.py, with `device` the JAX backend
(cpu, gpu, ...).
"""

import argparse
import json
import statistics
import time

import numpy as np
import jax
import jax.numpy as jnp

DU, DV, K, DT = 0.2097, 0.105, 0.06, 1.0


def initial(members, n):
    u = np.ones((members, n, n), dtype=np.float32)
    v = np.zeros((members, n, n), dtype=np.float32)
    lo, hi = n // 2 - 4, n // 2 + 4
    u[:, lo:hi, lo:hi] = 0.5
    v[:, lo:hi, lo:hi] = 0.25
    return jnp.asarray(u), jnp.asarray(v)


def feed(members):
    m = np.arange(members, dtype=np.float64)
    return jnp.asarray((0.02 + 0.04 * m / members).astype(np.float32))


def laplacian(a):
    # One member: axis 1 is x, axis 0 is y.
    return (((jnp.roll(a, 1, axis=1) - a) + (jnp.roll(a, -1, axis=1) - a))
            + (jnp.roll(a, 1, axis=0) - a)) + (jnp.roll(a, -1, axis=0) - a)


def step_one(u, v, f):
    f32 = jnp.float32
    uvv = u * v * v
    ru = f * (f32(1.0) - u) - uvv
    rv = uvv - (f + f32(K)) * v
    un = u + f32(DT) * (f32(DU) * laplacian(u) + ru)
    vn = v + f32(DT) * (f32(DV) * laplacian(v) + rv)
    return un, vn


step_all = jax.vmap(step_one)


def make_run(steps):
    @jax.jit
    def run(u, v, f):
        def body(_, s):
            return step_all(s[0], s[1], f)
        return jax.lax.fori_loop(0, steps, body, (u, v))
    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=256)
    ap.add_argument("--grid", type=int, default=64)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--budget", type=float, default=60.0,
                    help="stop repeating once this many seconds are spent (at least one run)")
    a = ap.parse_args()
    u0, v0 = initial(a.members, a.grid)
    f = feed(a.members)
    run = make_run(a.steps)
    jax.block_until_ready(run(u0, v0, f))  # compile (untimed)
    times, spent, v = [], 0.0, None
    for _ in range(max(1, a.repeats)):
        t0 = time.perf_counter()
        u, v = jax.block_until_ready(run(u0, v0, f))
        t = time.perf_counter() - t0
        times.append(t)
        spent += t
        if spent > a.budget:
            break
    med = statistics.median(times)
    print(json.dumps({
        "impl": "jax", "device": jax.default_backend(), "members": a.members,
        "grid": a.grid, "steps": a.steps, "seconds": times, "median_seconds": med,
        "cell_updates_per_s": a.members * a.grid * a.grid * a.steps / med,
        "checksum": float(np.asarray(v, dtype=np.float64).sum()),
        "version": jax.__version__,
    }))


if __name__ == "__main__":
    main()
