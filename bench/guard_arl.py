#!/usr/bin/env python3
"""The breaker's detector, computed: average run lengths of the one-sided
Poisson CUSUM that src/guard/detector.c runs per rule (docs/guard.md).

S_t = max(0, S_{t-1} + x_t*ln(r) - lam0*(r-1)), alarm when S_t > h,
x_t the automatic locks of minute t, lam0 = max(floor, EWMA baseline).
ARL0: mean minutes to a false alarm when x ~ Poisson(lam0) (the baseline
holds); ARL1: mean minutes from S=0 to the alarm when x ~ Poisson(lam1).
Computed exactly on a fine grid of S (Brook & Evans Markov chain).

usage: bench/guard_arl.py [--h 10] [--ratio 10] [--floor 0.2]
"""
import argparse
import math



def pois(lam, kmax):
    p = [math.exp(-lam)]
    for k in range(1, kmax + 1):
        p.append(p[-1] * lam / k)
    return p


def solve(A, b):
    """Gaussian elimination with partial pivoting (A is dense, small)."""
    n = len(b)
    M = [row[:] + [b[i]] for i, row in enumerate(A)]
    for c in range(n):
        piv = max(range(c, n), key=lambda r: abs(M[r][c]))
        M[c], M[piv] = M[piv], M[c]
        pc = M[c]
        inv = 1.0 / pc[c]
        for r in range(c + 1, n):
            f = M[r][c] * inv
            if f:
                row = M[r]
                for k in range(c, n + 1):
                    row[k] -= f * pc[k]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (M[r][n] - sum(M[r][k] * x[k] for k in range(r + 1, n))) / M[r][r]
    return x


def arl(lam0, lam, h, ratio, cells=250):
    """Mean minutes to S > h from S = 0, counts ~ Poisson(lam)."""
    up, down = math.log(ratio), lam0 * (ratio - 1)
    step = h / cells
    kmax = int(lam + 12 * math.sqrt(lam) + 30)
    p = pois(lam, kmax)
    n = cells + 1
    P = [[0.0] * n for _ in range(n)]
    for i in range(n):
        s = i * step
        for k, pk in enumerate(p):
            v = s + k * up - down
            if v > h:
                continue  # absorbed: alarm
            j = 0 if v <= 0 else min(int(round(v / step)), cells)
            P[i][j] += pk
    A = [[(1.0 if i == j else 0.0) - P[i][j] for j in range(n)] for i in range(n)]
    return solve(A, [1.0] * n)[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--h", type=float, default=10.0)
    ap.add_argument("--ratio", type=float, default=10.0)
    ap.add_argument("--floor", type=float, default=0.2)
    a = ap.parse_args()
    print(f"Poisson CUSUM: h={a.h:g}, shift ratio r={a.ratio:g} (ln r={math.log(a.ratio):.3f}), "
          f"baseline floor {a.floor:g} locks/min")
    for lam0 in (a.floor, 1.0, 5.0):
        a0 = arl(lam0, lam0, a.h, a.ratio)
        print(f"baseline {lam0:g}/min: ARL0 = {a0:.0f} min = {a0 / 1440:.1f} days")
        for lam1 in (1.0, 2.0, 5.0, 20.0, 100.0):
            if lam1 <= lam0:
                continue
            a1 = arl(lam0, lam1, a.h, a.ratio)
            print(f"  wave of {lam1:g} locks/min: detection delay ARL1 = {a1:.1f} min")


if __name__ == "__main__":
    main()
