"""Compiled inner loops of the scan: predict, gate, assign and update every track in place.

The tracker keeps its tracks as arrays; at a thousand tracks the numpy version of a scan spent
most of its time in the overhead of a few hundred small array operations. These loops do the same
arithmetic once per track or per gated pair, compiled with numba (``cache=True``: compiled once
per machine, then loaded from ``__pycache__``). Each is checked against the numpy/scipy
formulation it replaces (``tests/tracking/test_kernels.py``).

* :func:`ncv_predict_inplace`: NCV prior, F P Fᵀ + Q exploiting F = [[I, dt I], [0, I]].
* :func:`gate_grid`: every (track, detection) pair inside a χ² gate. Detections are bucketed in
  a uniform grid on (east, north); each track visits only the cells its Euclidean pre-gate
  radius covers, so cost grows with the plausible pairs, not tracks × detections.
* :func:`gnn_assign`: global nearest neighbour. Union-find splits the gated graph into
  independent clusters; single pairs and clusters with one track or one detection are decided
  directly, the rest by the shortest-augmenting-path assignment of Crouse (IEEE TAES 52(4),
  2016), the algorithm behind scipy's ``linear_sum_assignment``.
* :func:`kf_update_inplace`: Kalman update of the assigned rows with H = [I₃ 0], each plot at
  its own time offset.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
_Fn = TypeVar("_Fn", bound=Callable[..., Any])


def _jit(fn: _Fn) -> _Fn:
    """``numba.njit`` with an on-disk cache, typed for mypy as the function it wraps."""
    return cast(_Fn, numba.njit(cache=True, nogil=True)(fn))


def _jit_parallel(fn: _Fn) -> _Fn:
    """:func:`_jit` for loops over independent tracks that ``numba.prange`` splits over cores."""
    return cast(_Fn, numba.njit(cache=True, nogil=True, parallel=True)(fn))


@_jit
def _predict_one(x: F64, p: F64, i: int, dt: float, q: float) -> None:
    """NCV prior of row ``i`` in place (negative dt retrodicts with |dt| process noise)."""
    for k in range(3):
        x[i, k] += dt * x[i, k + 3]
    for r in range(3):  # F P: position rows gain dt × velocity rows
        for c in range(6):
            p[i, r, c] += dt * p[i, r + 3, c]
    for r in range(6):  # (F P) Fᵀ: position columns gain dt × velocity columns
        for c in range(3):
            p[i, r, c] += dt * p[i, r, c + 3]
    a = abs(dt)
    # Going back in time (retrodiction) the noise's position/velocity cross terms change sign:
    # Q(−T) = D Q(T) D with D flipping the velocities.
    q3, q2, q1 = q * a * a * a / 3.0, q * dt * a / 2.0, q * a
    for k in range(3):
        p[i, k, k] += q3
        p[i, k, k + 3] += q2
        p[i, k + 3, k] += q2
        p[i, k + 3, k + 3] += q1


@_jit
def ncv_predict_inplace(x: F64, p: F64, dt: F64, q: float) -> None:
    """NCV prior of every row, in place: x (N, 6), P (N, 6, 6), per-row dt (N,)."""
    for i in range(x.shape[0]):
        if dt[i] != 0.0:
            _predict_one(x, p, i, dt[i], q)


@_jit
def existence_decay_inplace(score: F64, dt: F64, mean_life_s: float) -> None:
    """Existence log-odds after dt of survival probability p = exp(−dt / mean life), in place.

    score⁻ = ln(p·r) − ln(1 − p·r), with 1 − p·r = (1 − p) + p·(1 − r) so that scores far from
    zero keep their precision; a negative dt (a late batch) decays nothing.
    """
    for i in range(score.size):
        a = dt[i] / mean_life_s
        if a <= 0.0:
            continue
        s = score[i]
        p = math.exp(-a)
        # ln r and 1 − r from the log-odds without overflow
        if s >= 0.0:
            ln_r = -math.log1p(math.exp(-s))
            one_minus_r = math.exp(-s) / (1.0 + math.exp(-s))
        else:
            ln_r = s - math.log1p(math.exp(s))
            one_minus_r = 1.0 / (1.0 + math.exp(s))
        score[i] = -a + ln_r - math.log(-math.expm1(-a) + p * one_minus_r)  # ln p = −a


@_jit
def _inv3(s: F64, inv: F64) -> float:
    """Inverse (into ``inv``) and determinant of a symmetric 3×3 matrix by cofactors.

    A determinant of 0 (or not finite) leaves ``inv`` zero: callers test the determinant.
    """
    a, b, c = s[0, 0], s[0, 1], s[0, 2]
    d, e, f = s[1, 1], s[1, 2], s[2, 2]
    c00 = d * f - e * e
    c01 = c * e - b * f
    c02 = b * e - c * d
    c11 = a * f - c * c
    c12 = b * c - a * e
    c22 = a * d - b * b
    det = a * c00 + b * c01 + c * c02
    if det == 0.0 or not math.isfinite(det):
        inv[:, :] = 0.0
        return float(det)
    inv[0, 0], inv[0, 1], inv[0, 2] = c00 / det, c01 / det, c02 / det
    inv[1, 0], inv[1, 1], inv[1, 2] = c01 / det, c11 / det, c12 / det
    inv[2, 0], inv[2, 1], inv[2, 2] = c02 / det, c12 / det, c22 / det
    return float(det)


@_jit
def gate_grid(
    xp: F64, pp: F64, z: F64, r: F64, radius: F64, cell: float, gate_d2: float
) -> tuple[I64, I64, F64, F64]:
    """(track, detection, d², ln|S|) of every pair with d² ≤ ``gate_d2``.

    ``xp`` (N, 3) and ``pp`` (N, 3, 3) are the predicted positions and their covariances,
    ``z`` (M, 3) and ``r`` (M, 3, 3) the detections; ``radius`` (N,) bounds each track's
    validation region in metres and ``cell`` is the grid pitch (widened when the detections
    spread over more than about four cells per detection). Pairs come out track-major.
    """
    n_t, n_d = xp.shape[0], z.shape[0]
    cap = 4 * (n_t + n_d) + 16
    ti = np.empty(cap, np.int64)
    di = np.empty(cap, np.int64)
    d2o = np.empty(cap)
    ldo = np.empty(cap)
    if n_t == 0 or n_d == 0:
        return ti[:0], di[:0], d2o[:0], ldo[:0]
    e0, n0 = z[:, 0].min(), z[:, 1].min()
    ext_e, ext_n = z[:, 0].max() - e0, z[:, 1].max() - n0
    max_cells = 4 * n_d + 1024  # far-flung detections widen the pitch, not the memory
    if (ext_e + cell) * (ext_n + cell) > max_cells * cell * cell:
        cell = math.sqrt((ext_e + cell) * (ext_n + cell) / max_cells)
    nx = int(ext_e / cell) + 1
    ny = int(ext_n / cell) + 1
    cx = np.empty(n_d, np.int64)
    count = np.zeros(nx * ny + 1, np.int64)
    for j in range(n_d):
        kx = int((z[j, 0] - e0) / cell)
        ky = int((z[j, 1] - n0) / cell)
        cx[j] = kx * ny + ky
        count[cx[j] + 1] += 1
    start = np.cumsum(count)  # detections of cell c are order[start[c]:start[c + 1]]
    fill = start[:-1].copy()
    order = np.empty(n_d, np.int64)
    for j in range(n_d):
        order[fill[cx[j]]] = j
        fill[cx[j]] += 1
    s = np.empty((3, 3))
    inv = np.empty((3, 3))
    n_out = 0
    for i in range(n_t):
        rad = radius[i]
        ex, ey, ez = xp[i, 0], xp[i, 1], xp[i, 2]
        if not (math.isfinite(ex) and math.isfinite(ey) and math.isfinite(ez)):
            continue  # a diverged track gates nothing (and costs the others nothing)
        if not math.isfinite(rad):
            rad = 1e300
        # Cell bounds clamped in floating point before becoming integers: no overflow.
        ax = int(max(math.floor((ex - rad - e0) / cell), 0.0))
        bx = int(min(math.floor((ex + rad - e0) / cell), nx - 1.0))
        ay = int(max(math.floor((ey - rad - n0) / cell), 0.0))
        by = int(min(math.floor((ey + rad - n0) / cell), ny - 1.0))
        for kx in range(ax, bx + 1):
            for ky in range(ay, by + 1):
                c = kx * ny + ky
                for o in range(start[c], start[c + 1]):
                    j = order[o]
                    v0, v1, v2 = z[j, 0] - ex, z[j, 1] - ey, z[j, 2] - ez
                    if v0 * v0 + v1 * v1 + v2 * v2 > rad * rad:
                        continue
                    for a in range(3):
                        for b in range(3):
                            s[a, b] = pp[i, a, b] + r[j, a, b]
                    det = _inv3(s, inv)
                    d2 = (
                        v0 * (inv[0, 0] * v0 + inv[0, 1] * v1 + inv[0, 2] * v2)
                        + v1 * (inv[1, 0] * v0 + inv[1, 1] * v1 + inv[1, 2] * v2)
                        + v2 * (inv[2, 0] * v0 + inv[2, 1] * v1 + inv[2, 2] * v2)
                    )
                    if not d2 <= gate_d2 or not 0.0 < det < math.inf:
                        continue
                    if n_out == cap:
                        cap *= 2
                        ti = _grow_i(ti, cap)
                        di = _grow_i(di, cap)
                        d2o = _grow_f(d2o, cap)
                        ldo = _grow_f(ldo, cap)
                    ti[n_out], di[n_out], d2o[n_out] = i, j, d2
                    ldo[n_out] = math.log(det)
                    n_out += 1
    return ti[:n_out], di[:n_out], d2o[:n_out], ldo[:n_out]


@_jit
def _grow_i(a: I64, cap: int) -> I64:
    out = np.empty(cap, np.int64)
    out[: a.size] = a
    return out


@_jit
def _grow_f(a: F64, cap: int) -> F64:
    out = np.empty(cap)
    out[: a.size] = a
    return out


@_jit
def _find(parent: I64, a: int) -> int:
    root = a
    while parent[root] != root:
        root = parent[root]
    while parent[a] != root:  # path compression
        parent[a], a = root, parent[a]
    return root


@_jit
def _clustered(ti: I64, dj: I64, rows: I64, n_t: int, n_d: int) -> tuple[I64, I64]:
    """The pairs ``rows`` ordered cluster by cluster, and each one's cluster label (same order).

    Clusters are the connected components of the bipartite graph of those pairs (tracks and
    detections as nodes), found by union-find with path compression.
    """
    parent = np.arange(n_t + n_d)
    for k in rows:
        a, b = _find(parent, ti[k]), _find(parent, n_t + dj[k])
        if a != b:
            parent[a] = b
    root = np.empty(rows.size, np.int64)
    for o in range(rows.size):
        root[o] = _find(parent, ti[rows[o]])
    by_root = np.argsort(root, kind="mergesort")
    return rows[by_root], root[by_root]


@_jit
def lap_min(cost: F64) -> I64:
    """Minimum-cost assignment of a dense (rows ≤ cols) matrix: the column of each row.

    Shortest augmenting paths with dual variables (Crouse 2016, as scipy): one Dijkstra-like
    search per row over reduced costs, then augment along the path found.
    """
    nr, nc = cost.shape
    u = np.zeros(nr)
    v = np.zeros(nc)
    col4row = np.full(nr, -1, np.int64)
    row4col = np.full(nc, -1, np.int64)
    shortest = np.empty(nc)
    path = np.empty(nc, np.int64)
    remaining = np.empty(nc, np.int64)
    sr = np.zeros(nr, np.bool_)
    sc = np.zeros(nc, np.bool_)
    for cur in range(nr):
        shortest[:] = np.inf
        path[:] = -1
        sr[:] = False
        sc[:] = False
        n_rem = nc
        for it in range(nc):
            remaining[it] = nc - it - 1
        min_val = 0.0
        i = cur
        sink = -1
        while sink == -1:
            sr[i] = True
            lowest = np.inf
            index = -1
            for it in range(n_rem):
                j = remaining[it]
                red = min_val + cost[i, j] - u[i] - v[j]
                if red < shortest[j]:
                    path[j] = i
                    shortest[j] = red
                if shortest[j] < lowest or (shortest[j] == lowest and row4col[j] == -1):
                    lowest = shortest[j]
                    index = it
            min_val = lowest
            j = remaining[index]
            if row4col[j] == -1:
                sink = j
            else:
                i = row4col[j]
            sc[j] = True
            n_rem -= 1
            remaining[index] = remaining[n_rem]
        u[cur] += min_val
        for i in range(nr):
            if sr[i] and i != cur:
                u[i] += min_val - shortest[col4row[i]]
        for j in range(nc):
            if sc[j]:
                v[j] -= min_val - shortest[j]
        j = sink
        while True:
            i = path[j]
            row4col[j] = i
            nxt = col4row[i]
            col4row[i] = j
            j = nxt
            if i == cur:
                break
    return col4row


@_jit
def gnn_assign(ti: I64, di: I64, cost: F64, n_t: int, n_d: int) -> I64:
    """Indices of the gated pairs chosen by a minimum-cost one-to-one assignment.

    A pair left out of the gate can never be chosen: clusters are solved on a dense matrix
    whose non-gated cells cost more than any gated assignment could, and are then dropped.
    """
    n_all = ti.size
    chosen = np.empty(min(n_t, n_d, n_all), np.int64)
    n_c = 0
    t_deg = np.zeros(n_t, np.int64)
    d_deg = np.zeros(n_d, np.int64)
    for k in range(n_all):
        t_deg[ti[k]] += 1
        d_deg[di[k]] += 1
    # A pair whose track and detection gate nothing else is a cluster of its own (most are).
    rest = np.empty(n_all, np.int64)
    n_p = 0
    for k in range(n_all):
        if t_deg[ti[k]] == 1 and d_deg[di[k]] == 1:
            chosen[n_c] = k
            n_c += 1
        else:
            rest[n_p] = k
            n_p += 1
    order, root = _clustered(ti, di, rest[:n_p], n_t, n_d)
    local_t = np.full(n_t, -1, np.int64)
    local_d = np.full(n_d, -1, np.int64)
    g0 = 0
    while g0 < n_p:
        g1 = g0 + 1
        while g1 < n_p and root[g1] == root[g0]:
            g1 += 1
        if g1 - g0 == 1:
            chosen[n_c] = order[g0]
            n_c += 1
            g0 = g1
            continue
        nt_g = 0
        nd_g = 0
        hi = 0.0
        for o in range(g0, g1):
            k = order[o]
            if local_t[ti[k]] < 0:
                local_t[ti[k]] = nt_g
                nt_g += 1
            if local_d[di[k]] < 0:
                local_d[di[k]] = nd_g
                nd_g += 1
            hi = max(hi, abs(cost[k]))
        if nt_g == 1 or nd_g == 1:  # a star: the cheapest pair is the assignment
            best = order[g0]
            for o in range(g0 + 1, g1):
                if cost[order[o]] < cost[best]:
                    best = order[o]
            chosen[n_c] = best
            n_c += 1
        else:
            forbidden = 10.0 * hi + 1e6  # dearer than any gated assignment of the cluster
            transpose = nt_g > nd_g
            nr, nc = (nd_g, nt_g) if transpose else (nt_g, nd_g)
            dense = np.full((nr, nc), forbidden)
            pair_of = np.full((nr, nc), -1, np.int64)
            for o in range(g0, g1):
                k = order[o]
                a, b = local_t[ti[k]], local_d[di[k]]
                if transpose:
                    a, b = b, a
                dense[a, b] = cost[k]
                pair_of[a, b] = k
            col = lap_min(dense)
            for a in range(nr):
                k = pair_of[a, col[a]]
                if k >= 0:
                    chosen[n_c] = k
                    n_c += 1
        for o in range(g0, g1):
            local_t[ti[order[o]]] = -1
            local_d[di[order[o]]] = -1
        g0 = g1
    return np.sort(chosen[:n_c])


@_jit
def kf_update_inplace(x: F64, p: F64, rows: I64, z: F64, r: F64, offset: F64, q: float) -> None:
    """Kalman update, in place, of track ``rows[k]`` with plot k (H = [I₃ 0]).

    A plot taken ``offset[k]`` seconds away from the track's time is applied at its own time:
    the track is predicted to it, updated, and carried back (NCV both ways). The covariance is
    P − B S⁻¹ Bᵀ with B = P Hᵀ, symmetrised.
    """
    s = np.empty((3, 3))
    inv = np.empty((3, 3))
    gain = np.empty((6, 3))  # K = B S⁻¹
    bt = np.empty((3, 6))  # Bᵀ = H P, before P changes
    for k in range(rows.size):
        i = rows[k]
        off = offset[k]
        if off != 0.0:
            _predict_one(x, p, i, off, q)
        for a in range(3):
            for b in range(3):
                s[a, b] = p[i, a, b] + r[k, a, b]
        det = _inv3(s, inv)
        if not 0.0 < det < math.inf:  # S singular or overflowed: no update, only carried back
            if off != 0.0:
                _predict_one(x, p, i, -off, q)
            continue
        nu0, nu1, nu2 = z[k, 0] - x[i, 0], z[k, 1] - x[i, 1], z[k, 2] - x[i, 2]
        for a in range(6):
            for b in range(3):
                gain[a, b] = (
                    p[i, a, 0] * inv[0, b] + p[i, a, 1] * inv[1, b] + p[i, a, 2] * inv[2, b]
                )
        for a in range(3):
            for b in range(6):
                bt[a, b] = p[i, a, b]
        for a in range(6):
            x[i, a] += gain[a, 0] * nu0 + gain[a, 1] * nu1 + gain[a, 2] * nu2
            for b in range(6):
                p[i, a, b] -= gain[a, 0] * bt[0, b] + gain[a, 1] * bt[1, b] + gain[a, 2] * bt[2, b]
        for a in range(6):
            for b in range(a + 1, 6):
                m = 0.5 * (p[i, a, b] + p[i, b, a])
                p[i, a, b] = m
                p[i, b, a] = m
        if off != 0.0:
            _predict_one(x, p, i, -off, q)


_warm = False


def warm_up() -> None:
    """Compile (or load from the cache) every kernel now, not inside the first timed scan."""
    global _warm
    if _warm:
        return
    _warm = True
    x = np.zeros((2, 6))
    p = np.broadcast_to(np.eye(6) * 100.0, (2, 6, 6)).copy()
    z = np.zeros((2, 3))
    r = np.broadcast_to(np.eye(3), (2, 3, 3)).copy()
    ncv_predict_inplace(x, p, np.ones(2), 1.0)
    existence_decay_inplace(np.zeros(2), np.ones(2), 60.0)
    ti, di, d2, ld = gate_grid(
        x[:, :3].copy(), p[:, :3, :3].copy(), z, r, np.full(2, 1e3), 10.0, 20.0
    )
    gnn_assign(ti, di, d2 + ld, 2, 2)
    kf_update_inplace(x, p, np.arange(2, dtype=np.int64), z, r, np.array([0.0, 0.5]), 1.0)


@_jit
def jpda_exact_loops(
    ti: I64, dj: I64, psi: F64, n_t: int, n_d: int, beta: F64, beta_miss: F64, max_events: float
) -> int:
    """Overwrite, in place, the JPDA marginals of clusters whose gate graph has a loop.

    Clusters (union-find over tracks and detections) with as many edges as nodes or more are
    not trees, where belief propagation is only approximate; those with at most ``max_events``
    joint events (∏ over tracks of its gated detections + 1) are enumerated exactly, depth
    first: every assignment of at most one detection per track and one track per detection,
    weighted by the product of its ψ. Returns the number of clusters enumerated.
    """
    n_p = ti.size
    order, root = _clustered(ti, dj, np.arange(n_p), n_t, n_d)
    local_t = np.full(n_t, -1, np.int64)
    local_d = np.full(n_d, -1, np.int64)
    done = 0
    g0 = 0
    while g0 < n_p:
        g1 = g0 + 1
        while g1 < n_p and root[g1] == root[g0]:
            g1 += 1
        nt_g = 0
        nd_g = 0
        for o in range(g0, g1):
            k = order[o]
            if local_t[ti[k]] < 0:
                local_t[ti[k]] = nt_g
                nt_g += 1
            if local_d[dj[k]] < 0:
                local_d[dj[k]] = nd_g
                nd_g += 1
        if g1 - g0 >= nt_g + nd_g:  # a tree has one edge fewer than it has nodes
            # per local track, its pair indices (CSR)
            count = np.zeros(nt_g + 1, np.int64)
            for o in range(g0, g1):
                count[local_t[ti[order[o]]] + 1] += 1
            start = np.cumsum(count)
            opts = np.empty(g1 - g0, np.int64)
            fill = start[:-1].copy()
            for o in range(g0, g1):
                lt = local_t[ti[order[o]]]
                opts[fill[lt]] = order[o]
                fill[lt] += 1
            events = 1.0
            for t in range(nt_g):
                events *= start[t + 1] - start[t] + 1.0
            if events <= max_events:
                _enumerate_cluster(opts, start, nt_g, nd_g, dj, psi, local_d, ti, beta, beta_miss)
                done += 1
        for o in range(g0, g1):
            local_t[ti[order[o]]] = -1
            local_d[dj[order[o]]] = -1
        g0 = g1
    return done


@_jit
def _enumerate_cluster(
    opts: I64,
    start: I64,
    nt_g: int,
    nd_g: int,
    dj: I64,
    psi: F64,
    local_d: I64,
    ti: I64,
    beta: F64,
    beta_miss: F64,
) -> None:
    """Exact marginals of one cluster by an explicit-stack depth-first walk of its events."""
    acc_pair = np.zeros(opts.size)  # per option slot
    acc_miss = np.zeros(nt_g)
    used = np.zeros(nd_g, np.bool_)
    choice = np.full(nt_g, -2, np.int64)  # -2: not started; -1: missed; j ≥ 0: option slot
    weight = np.ones(nt_g + 1)
    total = 0.0
    level = 0
    while level >= 0:
        if level == nt_g:  # a complete event
            w = weight[nt_g]
            total += w
            for t in range(nt_g):
                if choice[t] < 0:
                    acc_miss[t] += w
                else:
                    acc_pair[choice[t]] += w
            level -= 1
            continue
        c = choice[level]
        if c >= 0:  # release the detection taken before moving on
            used[local_d[dj[opts[c]]]] = False
        # next alternative: miss first, then each option whose detection is free
        nxt = -1 if c == -2 else (start[level] if c == -1 else c + 1)
        while nxt >= 0 and nxt < start[level + 1] and used[local_d[dj[opts[nxt]]]]:
            nxt += 1
        if nxt >= start[level + 1]:
            choice[level] = -2
            level -= 1
            continue
        choice[level] = nxt
        if nxt == -1:
            weight[level + 1] = weight[level]
        else:
            used[local_d[dj[opts[nxt]]]] = True
            weight[level + 1] = weight[level] * psi[opts[nxt]]
        level += 1
    for t in range(nt_g):
        first = opts[start[t]]
        beta_miss[ti[first]] = acc_miss[t] / total
    for s in range(opts.size):
        beta[opts[s]] = acc_pair[s] / total
