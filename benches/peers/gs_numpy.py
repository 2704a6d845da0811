#!/usr/bin/env python3
"""Gray-Scott ensemble peer in numpy, vectorised over members.

The pinned problem (see docs/performance.md, "The peer problem"): f32,
periodic 5-point Laplacian with dx = 1, explicit Euler with dt = 1,
Du = 0.2097, Dv = 0.105, k = 0.06, F = 0.02 + 0.04*m/M for member m of M,
u = 1, v = 0 except an 8x8 centre square with u = 0.5, v = 0.25.

The arithmetic follows vtwin's kernel operation by operation (Laplacian as
((xm - c) + (xp - c)) + (ym - c)) + (yp - c), uvv = (u*v)*v), so on the
CPU the checksum agrees with vtwin's CPU backend to the last bit.

Prints one JSON line: impl, device, members, grid, steps, seconds (every
timed run), median_seconds, cell_updates_per_s, checksum (sum of v, f64).
"""

import argparse
import json
import statistics
import time

import numpy as np

F32 = np.float32
DU, DV, K, DT = F32(0.2097), F32(0.105), F32(0.06), F32(1.0)


def initial(members, n):
    u = np.ones((members, n, n), dtype=F32)
    v = np.zeros((members, n, n), dtype=F32)
    lo, hi = n // 2 - 4, n // 2 + 4
    u[:, lo:hi, lo:hi] = F32(0.5)
    v[:, lo:hi, lo:hi] = F32(0.25)
    return u, v


def feed(members):
    m = np.arange(members, dtype=np.float64)
    return (0.02 + 0.04 * m / members).astype(F32).reshape(members, 1, 1)


def laplacian(a):
    # Axis 2 is x, axis 1 is y; np.roll(a, 1) brings a[x - 1] to x.
    return (((np.roll(a, 1, axis=2) - a) + (np.roll(a, -1, axis=2) - a))
            + (np.roll(a, 1, axis=1) - a)) + (np.roll(a, -1, axis=1) - a)


def step(u, v, f):
    uvv = u * v * v
    ru = f * (F32(1.0) - u) - uvv
    rv = uvv - (f + K) * v
    un = u + DT * (DU * laplacian(u) + ru)
    vn = v + DT * (DV * laplacian(v) + rv)
    return un, vn


def run(members, n, steps):
    u, v = initial(members, n)
    f = feed(members)
    t0 = time.perf_counter()
    for _ in range(steps):
        u, v = step(u, v, f)
    return time.perf_counter() - t0, float(v.astype(np.float64).sum())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=256)
    ap.add_argument("--grid", type=int, default=64)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--budget", type=float, default=60.0,
                    help="stop repeating once this many seconds are spent (at least one run)")
    a = ap.parse_args()
    times, checksum, spent = [], None, 0.0
    for _ in range(max(1, a.repeats)):
        t, checksum = run(a.members, a.grid, a.steps)
        times.append(t)
        spent += t
        if spent > a.budget:
            break
    med = statistics.median(times)
    print(json.dumps({
        "impl": "numpy", "device": "cpu", "members": a.members, "grid": a.grid,
        "steps": a.steps, "seconds": times, "median_seconds": med,
        "cell_updates_per_s": a.members * a.grid * a.grid * a.steps / med,
        "checksum": checksum, "version": np.__version__,
    }))


if __name__ == "__main__":
    main()
