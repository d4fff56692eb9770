# pyright: reportArgumentType=false, reportCallIssue=false, reportAttributeAccessIssue=false, reportOptionalMemberAccess=false, reportIndexIssue=false, reportOperatorIssue=false, reportAbstractUsage=false, reportOptionalSubscript=false, reportOptionalIterable=false
"""Independent bad-input harness for the width and depth names (issue 14).

Not collected by pytest (no `test_` prefix). Run `python tests/harness_models.py
[-k SUBSTRING] [-v] [--timeout S]`: it starts one worker process with
`jax_enable_x64` on and one with it off, runs every call in each (a call may
be limited to one mode), and prints a table of failures and the tally.

Every call says what a correct library does:

- `err(*names)`: raise `TypeError`/`ValueError`/`MemoryError`/`OSError` (or,
  under `jit`, an `EquinoxRuntimeError`) whose message names the argument
  (one of `names`, case-insensitive). Another exception type from inside
  jax/numpy/equinox/diffrax/ott is `crash`; a message without the name is
  `unnamed`; a returned value is `silent`.
- `ok(check)`: return a value that `check` accepts. References are computed
  here, independently, in NumPy/SciPy float64 (closed forms, quadrature,
  brute force), so they work in both modes. A NaN/inf or a wrong number is
  `silent`; an exception is `crash`.

Each call runs under a SIGALRM (`--timeout`, default 60 s): `hang`. A worker
that dies (segfault, abort, OOM kill) reports the call it was running as
`crash` and a fresh worker resumes after it.
"""

import argparse
import json
import os
import pathlib
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback


ROOT = pathlib.Path(__file__).resolve().parents[1]
KINDS = ("silent", "wrong", "crash", "hang", "unnamed")


# --------------------------------------------------------------- the calls


def build(x64):
    """Register every call for one mode; return the list of (name, expect, fn)."""
    import jax

    jax.config.update("jax_enable_x64", x64)
    import diffrax
    import equinox as eqx
    import jax.numpy as jnp
    import jax.random as jr
    import numpy as np
    import scipy.integrate
    import scipy.linalg
    import scipy.optimize
    import scipy.stats
    from numpy.polynomial import hermite_e

    sys.path.insert(0, str(ROOT))
    import flowrep as fr

    calls = []
    F = jnp.float64 if x64 else jnp.float32
    tol = 1e-9 if x64 else 2e-5  # relative tolerance for exact references

    def case(name, expect, fn, mode=None):
        if mode is None or mode == ("x64" if x64 else "x32"):
            calls.append((name, expect, fn))

    def err(*names):
        return ("err", names)

    def leaves(r):
        return [
            a
            for a in jax.tree.leaves(r)
            if hasattr(a, "dtype") and jnp.issubdtype(a.dtype, jnp.inexact)
        ]

    def finite_check(r):
        ls = leaves(r)
        if not ls and not isinstance(r, (float, int, complex)):
            return "no floating output"
        for a in ls:
            if not bool(jnp.all(jnp.isfinite(a))):
                return f"non-finite output {np.asarray(a, np.float64).ravel()[:4]}"
        if isinstance(r, (float, complex)) and not np.isfinite(r):
            return f"non-finite output {r}"
        return None

    def ok(check=None):
        return ("ok", check or finite_check)

    def close(ref, rtol=None, atol=0.0, get=lambda r: r):
        def check(r):
            v = get(r)
            bad = finite_check(v)
            if bad:
                return bad
            want = np.asarray(ref() if callable(ref) else ref)
            got = np.asarray(v).astype(
                want.dtype if want.dtype.kind == "c" else np.float64
            )
            if got.shape != want.shape:
                return f"wrong: shape {got.shape}, want {want.shape}"
            e = float(np.max(np.abs(got - want))) if got.size else 0.0
            t = atol + (tol if rtol is None else rtol) * float(
                np.max(np.abs(want)) if want.size else 0
            )
            if e <= t:
                return None
            return f"wrong: off by {e:.3g} (tol {t:.3g}; got {got.ravel()[:3]}, want {want.ravel()[:3]})"

        return check

    def is_dtype(dt):
        def check(r):
            bad = finite_check(r)
            if bad:
                return bad
            return None if r.dtype == dt else f"wrong: dtype {r.dtype}, want {dt}"

        return check

    def n64(a):
        return np.asarray(a, np.float64)

    rng = np.random.default_rng(1414)
    key = jr.PRNGKey(0)
    Z = rng.normal(size=7) * 2
    Zj = jnp.asarray(Z, F)
    Z64 = n64(Zj)

    # ------------------------------------------------------------ activations
    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    acts = {
        "ReLU": (fr.ReLU(), lambda z: np.maximum(z, 0)),
        "Tanh": (fr.Tanh(), np.tanh),
        "Sigmoid": (fr.Sigmoid(), sigmoid),
        "SigmoidDerivative": (
            fr.SigmoidDerivative(),
            lambda z: sigmoid(z) * (1 - sigmoid(z)),
        ),
        "Softplus": (fr.Softplus(), lambda z: np.logaddexp(0, z)),
        "Step": (fr.Step(), lambda z: (z > 0).astype(float)),
        "Identity": (fr.Identity(), lambda z: z),
        "Gaussian": (fr.Gaussian(), lambda z: np.exp(-(z**2) / 2)),
        "LeakyReLU": (fr.LeakyReLU(0.2), lambda z: np.where(z > 0, z, 0.2 * z)),
    }
    for nm, (act, ref) in acts.items():
        case(f"{nm} values", ok(close(ref(Z64))), lambda act=act: act(Zj))
        big = np.array([-1e30, -50.0, 50.0, 1e30])
        if nm in ("Identity", "ReLU", "LeakyReLU", "Softplus") and not x64:
            big = np.array([-1e30, -50.0, 50.0, 1e30]) * 1e-0
        case(
            f"{nm} huge |z|=1e30",
            ok(close(ref(n64(jnp.asarray(big, F))), 1e-6)),
            lambda act=act, big=big: act(jnp.asarray(big, F)),
        )
        case(
            f"{nm} bfloat16 keeps dtype",
            ok(is_dtype(jnp.bfloat16)),
            lambda act=act: act(Zj.astype(jnp.bfloat16)),
        )
        case(
            f"{nm} jit",
            ok(close(ref(Z64))),
            lambda act=act: jax.jit(lambda z: act(z))(Zj),
        )
        case(
            f"{nm} fourier finite",
            ok(),
            lambda act=act: act.fourier(jnp.asarray([0.5, 1.0, 3.0], F)),
        )
        case(f"{nm} str input", err("z"), lambda act=act: act("abc"))
    case(
        "get_activation('relu')",
        ok(lambda r: None if isinstance(r, fr.ReLU) else f"wrong: {r!r}"),
        lambda: fr.get_activation("relu"),
    )
    case(
        "get_activation unknown", err("name", "nope"), lambda: fr.get_activation("nope")
    )
    case("get_activation int", err("name"), lambda: fr.get_activation(3))
    case("get_activation None", err("name"), lambda: fr.get_activation(None))
    case("get_activation list of str", err("name"), lambda: fr.get_activation(["relu"]))
    for alpha in (float("nan"), float("inf"), "a", None, -0.5, 1.5):
        case(
            f"LeakyReLU(alpha={alpha!r})",
            err("alpha"),
            lambda alpha=alpha: fr.LeakyReLU(alpha),
        )
    case("LeakyReLU(alpha=True)", err("alpha"), lambda: fr.LeakyReLU(True))
    case("LeakyReLU(alpha=1+1j)", err("alpha"), lambda: fr.LeakyReLU(1 + 1j))

    # ---------------------------------------------------------- ridgelets
    def gk(k, z):
        c = np.zeros(k + 1)
        c[k] = 1
        return (-1) ** k * hermite_e.hermeval(z, c) * np.exp(-(z**2) / 2)

    for k in (0, 1, 3, 9, 20):
        case(
            f"GaussianDerivative({k}) values",
            ok(
                close(
                    gk(k, Z64),
                    1e-9 if x64 else 1e-4,
                    atol=0 if x64 else 1e-5 * max(1, np.max(np.abs(gk(k, Z64)))),
                )
            ),
            lambda k=k: fr.GaussianDerivative(k)(Zj),
        )
    case(
        "GaussianDerivative(5) at 1e30",
        ok(close(np.zeros(2))),
        lambda: fr.GaussianDerivative(5)(jnp.asarray([1e30, -1e30], F)),
    )
    case(
        "GaussianDerivative(40) at z=40",
        ok(
            close(
                lambda: np.array(
                    [
                        float(
                            __import__("mpmath").hermite(
                                40, 40 / __import__("mpmath").sqrt(2)
                            )
                            * __import__("mpmath").power(2, -20)
                            * __import__("mpmath").exp(-800)
                        )
                    ]
                ),
                1e-6 if x64 else 1.0,
                atol=0 if x64 else 1e-300,
            )
        ),
        lambda: fr.GaussianDerivative(40)(jnp.asarray([40.0], F)),
    )
    for k in (-1, 2.5, "3", None, True, 2000, float("nan"), 1 + 0j):
        case(
            f"GaussianDerivative(k={k!r})",
            err("k"),
            lambda k=k: fr.GaussianDerivative(k),
        )
    case(
        "GaussianDerivative(k=np.int64(2))",
        ok(close(gk(2, Z64), 1e-5)),
        lambda: fr.GaussianDerivative(np.int64(2))(Zj),
    )
    case(
        "GaussianDerivative(60) on float32 z",
        err("k", "float32"),
        lambda: fr.GaussianDerivative(60)(jnp.asarray(Z, jnp.float32)),
    )
    for m, ll in ((0, 0), (2, 1), (4, 0)):
        case(
            f"LambdaGaussian({m},{ll}) even m = +-G^(l+m)",
            ok(
                close(
                    (-1) ** (m // 2) * gk(ll + m, Z64),
                    1e-9 if x64 else 1e-4,
                    atol=0 if x64 else 1e-5,
                )
            ),
            lambda m=m, ll=ll: fr.LambdaGaussian(m, ll)(Zj),
        )
    case(
        "LambdaGaussian(1,0) finite tails",
        ok(),
        lambda: fr.LambdaGaussian(1, 0)(jnp.asarray([-1e6, -30.0, 0.0, 30.0, 1e6], F)),
    )
    for m, ll in ((-1, 0), (1.5, 0), ("1", 0), (1, -2), (1, None), (True, 0)):
        case(
            f"LambdaGaussian(m={m!r}, l={ll!r})",
            err("m", "l"),
            lambda m=m, ll=ll: fr.LambdaGaussian(m, ll),
        )

    # custom profiles
    def gfour(w):
        return jnp.sqrt(2 * jnp.pi) * jnp.exp(-(w**2) / 2)

    case(
        "CustomActivation values",
        ok(close(np.tanh(Z64))),
        lambda: fr.CustomActivation(jnp.tanh, gfour)(Zj),
    )
    case(
        "CustomActivation fn not callable",
        err("fn"),
        lambda: fr.CustomActivation("tanh", gfour),
    )
    case(
        "CustomActivation fourier_fn None",
        err("fourier_fn"),
        lambda: fr.CustomActivation(jnp.tanh, None),
    )
    case(
        "CustomActivation parity 3",
        err("parity"),
        lambda: fr.CustomActivation(jnp.tanh, gfour, parity=3),
    )
    case(
        "CustomActivation growth 'x'",
        err("growth"),
        lambda: fr.CustomActivation(jnp.tanh, gfour, growth="x"),
    )
    case(
        "CustomRidgelet values",
        ok(close(np.exp(-(Z64**2) / 2))),
        lambda: fr.CustomRidgelet(lambda z: jnp.exp(-(z**2) / 2), gfour)(Zj),
    )
    case(
        "CustomRidgelet fn not callable",
        err("fn"),
        lambda: fr.CustomRidgelet(3.0, gfour),
    )
    case(
        "CustomRidgelet fourier_fn not callable",
        err("fourier_fn"),
        lambda: fr.CustomRidgelet(jnp.tanh, 2),
    )
    case(
        "CustomRidgelet parity 'odd'",
        err("parity"),
        lambda: fr.CustomRidgelet(jnp.tanh, gfour, parity="odd"),
    )
    case(
        "AbstractActivation() abstract",
        err("abstract", "AbstractActivation", "instantiate"),
        lambda: fr.AbstractActivation(),
    )
    case(
        "AbstractRidgelet() abstract",
        err("abstract", "AbstractRidgelet", "instantiate"),
        lambda: fr.AbstractRidgelet(),
    )
    case(
        "NotAdmissibleError bad reason",
        err("reason"),
        lambda: fr.NotAdmissibleError("m", reason="maybe"),
    )
    case(
        "NotAdmissibleError is ValueError",
        ok(lambda r: None if isinstance(r, ValueError) else "wrong"),
        lambda: fr.NotAdmissibleError("m", reason="vanishes"),
    )

    # ---------------------------------------------------------- admissibility
    def adm_ref(k, d):
        # sigma = Gaussian, rho = G^(k): (2 pi)^(d-1) int 2 pi e^{-w^2} conj((i w)^k) |w|^{-d} dw, k even
        sign = (-1) ** (k // 2)  # conj((i w)^k) = (-1)^{k/2} w^k for even k
        val, _ = scipy.integrate.quad(
            lambda w: 2 * np.pi * np.exp(-(w**2)) * w**k * w ** (-d), 0, np.inf
        )
        return sign * 2 * val * (2 * np.pi) ** (d - 1)

    for k, d in ((2, 1), (2, 2), (4, 3), (6, 1)):
        case(
            f"admissibility(Gaussian, G^({k}), d={d}) vs quad",
            ok(close(adm_ref(k, d), 1e-6)),
            lambda k=k, d=d: fr.admissibility(
                fr.Gaussian(), fr.GaussianDerivative(k), d
            ),
        )
    case(
        "admissibility odd pair vanishes",
        err("vanish"),
        lambda: fr.admissibility(fr.Gaussian(), fr.GaussianDerivative(1), 1),
    )
    case(
        "admissibility_status odd pair '0'",
        ok(lambda r: None if r == "0" else f"wrong: {r!r}"),
        lambda: fr.admissibility_status(fr.Gaussian(), fr.GaussianDerivative(1), 1),
    )
    case(
        "admissibility_status even '+'",
        ok(lambda r: None if r == "+" else f"wrong: {r!r}"),
        lambda: fr.admissibility_status(fr.Gaussian(), fr.GaussianDerivative(2), 1),
    )
    for dim in (0, -1, 2.5, "2", None, True, 10**9):
        case(
            f"admissibility dim={dim!r}",
            err("dim"),
            lambda dim=dim: fr.admissibility(fr.Tanh(), fr.GaussianDerivative(2), dim),
        )
        case(
            f"admissibility_status dim={dim!r}",
            err("dim"),
            lambda dim=dim: fr.admissibility_status(
                fr.Tanh(), fr.GaussianDerivative(2), dim
            ),
        )
    for dim in (0, 2.5, "1", True):
        case(
            f"admissibility_table dim={dim!r}",
            err("dim"),
            lambda dim=dim: fr.admissibility_table(dim),
        )
    case(
        "admissibility sigma str unknown",
        err("sigma"),
        lambda: fr.admissibility("nope", fr.GaussianDerivative(2), 1),
    )
    case(
        "admissibility rho None",
        err("rho"),
        lambda: fr.admissibility(fr.Tanh(), None, 1),
    )
    case("admissibility rho=3", err("rho"), lambda: fr.admissibility(fr.Tanh(), 3, 1))
    case(
        "admissibility s=nan",
        err("s"),
        lambda: fr.admissibility(
            fr.Tanh(), fr.GaussianDerivative(2), 1, s=float("nan")
        ),
    )
    case(
        "admissibility s='a'",
        err("s"),
        lambda: fr.admissibility(fr.Tanh(), fr.GaussianDerivative(2), 1, s="a"),
    )
    case(
        "admissibility_table(1) fields finite",
        ok(
            lambda t: (
                None
                if isinstance(t, fr.AdmissibilityTable)
                and all(
                    v is None or np.isfinite(complex(v))
                    for row in t.values.values()
                    for v in row
                )
                else "wrong: non-finite value in table"
            )
        ),
        lambda: fr.admissibility_table(1),
        mode="x64",
    )

    # ------------------------------------------------------------ nodes
    def grid_check(lo, hi, num, d, rule):
        def check(r):
            x, w = r
            bad = finite_check(r)
            if bad:
                return bad
            x, w = n64(x), n64(w)
            if x.shape != (num**d, d) or w.shape != (num**d,):
                return f"wrong: shapes {x.shape} {w.shape}"
            vol = float(
                np.prod(
                    np.broadcast_to(np.asarray(hi, float) - np.asarray(lo, float), (d,))
                )
            )
            if abs(w.sum() - vol) > 1e-5 * abs(vol):
                return f"wrong: sum w {w.sum()} != volume {vol}"
            # integrate x_0^2 exactly (trapezoid) / to O(h^2) (midpoint)
            lo0, hi0 = (
                np.broadcast_to(np.asarray(lo, float), (d,))[0],
                np.broadcast_to(np.asarray(hi, float), (d,))[0],
            )
            want = (hi0**3 - lo0**3) / 3 * vol / (hi0 - lo0)
            got = float(np.sum(w * x[:, 0] ** 2))
            h = (hi0 - lo0) / (num if rule == "midpoint" else num - 1)
            if abs(got - want) > (h**2) * vol * (hi0 - lo0) + 1e-5 * abs(want):
                return f"wrong: int x^2 {got} vs {want}"
            return None

        return check

    for lo, hi, num, d, rule in (
        (0.0, 1.0, 5, 1, "midpoint"),
        (-2.0, 3.0, 4, 2, "trapezoid"),
        ([0.0, -1.0], [1.0, 1.0], 3, 2, "midpoint"),
        (0.0, 1.0, 1, 1, "midpoint"),
        (1e4, 1e4 + 1, 6, 1, "midpoint"),
    ):
        case(
            f"grid_nodes {lo},{hi},{num},d={d},{rule}",
            ok(grid_check(lo, hi, num, d, rule)),
            lambda lo=lo, hi=hi, num=num, d=d, rule=rule: fr.grid_nodes(
                lo, hi, num, d if not isinstance(lo, list) else None, rule=rule
            ),
        )
    for num in (0, -3, 2.5, "5", None, True):
        case(
            f"grid_nodes num={num!r}",
            err("num"),
            lambda num=num: fr.grid_nodes(0.0, 1.0, num),
        )
    case(
        "grid_nodes trapezoid num=1",
        err("num"),
        lambda: fr.grid_nodes(0.0, 1.0, 1, rule="trapezoid"),
    )
    case(
        "grid_nodes huge num**d",
        err("num", "dim"),
        lambda: fr.grid_nodes(0.0, 1.0, 10**6, 4),
    )
    case(
        "grid_nodes empty box",
        err("lower", "upper"),
        lambda: fr.grid_nodes(1.0, 1.0, 3),
    )
    case(
        "grid_nodes reversed box",
        err("lower", "upper"),
        lambda: fr.grid_nodes(1.0, 0.0, 3),
    )
    case(
        "grid_nodes nan lower",
        err("lower"),
        lambda: fr.grid_nodes(float("nan"), 1.0, 3),
    )
    case(
        "grid_nodes inf upper",
        err("upper"),
        lambda: fr.grid_nodes(0.0, float("inf"), 3),
    )
    case(
        "grid_nodes corners mismatch",
        err("lower", "upper"),
        lambda: fr.grid_nodes([0.0, 0.0], [1.0, 1.0, 1.0], 3),
    )
    case(
        "grid_nodes dim vs corners",
        err("dim"),
        lambda: fr.grid_nodes([0.0, 0.0], [1.0, 1.0], 3, 3),
    )
    case("grid_nodes dim=0", err("dim"), lambda: fr.grid_nodes(0.0, 1.0, 3, 0))
    case("grid_nodes dim=2.5", err("dim"), lambda: fr.grid_nodes(0.0, 1.0, 3, 2.5))
    case(
        "grid_nodes rule unknown",
        err("rule"),
        lambda: fr.grid_nodes(0.0, 1.0, 3, rule="simpson"),
    )
    case("grid_nodes lower str", err("lower"), lambda: fr.grid_nodes("a", 1.0, 3))
    case("grid_nodes lower complex", err("lower"), lambda: fr.grid_nodes(1j, 1.0, 3))
    case(
        "grid_nodes lower 2-d",
        err("lower"),
        lambda: fr.grid_nodes(np.zeros((2, 2)), 1.0, 3),
    )

    def unif_check(lo, hi, num, d):
        def check(r):
            bad = finite_check(r)
            if bad:
                return bad
            x, w = n64(r[0]), n64(r[1])
            vol = (hi - lo) ** d
            if x.shape != (num, d) or np.any(x < lo) or np.any(x > hi):
                return f"wrong: x outside box or shape {x.shape}"
            return (
                None
                if np.allclose(w, vol / num, rtol=1e-6)
                else f"wrong: w {w[:2]} vs {vol / num}"
            )

        return check

    case(
        "uniform_nodes 2d",
        ok(unif_check(-1.0, 2.0, 50, 2)),
        lambda: fr.uniform_nodes(key, 50, -1.0, 2.0, 2),
    )
    case(
        "uniform_nodes num=1",
        ok(unif_check(0.0, 1.0, 1, 1)),
        lambda: fr.uniform_nodes(key, 1, 0.0, 1.0),
    )
    for num in (0, 2.5, "4", True, 10**13):
        case(
            f"uniform_nodes num={num!r}",
            err("num"),
            lambda num=num: fr.uniform_nodes(key, num, 0.0, 1.0),
        )
    case(
        "uniform_nodes bad key",
        err("key"),
        lambda: fr.uniform_nodes("key", 5, 0.0, 1.0),
    )
    case(
        "uniform_nodes key=None",
        err("key"),
        lambda: fr.uniform_nodes(None, 5, 0.0, 1.0),
    )
    case(
        "uniform_nodes empty box",
        err("lower", "upper"),
        lambda: fr.uniform_nodes(key, 5, 1.0, 1.0),
    )
    case(
        "uniform_nodes nan upper",
        err("upper"),
        lambda: fr.uniform_nodes(key, 5, 0.0, float("nan")),
    )

    mu2, S2 = np.array([0.5, -1.0]), np.array([[2.0, 0.3], [0.3, 0.5]])

    def gnodes_check(num, mu, S):
        def check(r):
            bad = finite_check(r)
            if bad:
                return bad
            x, w = n64(r[0]), n64(r[1])
            want = 1 / (num * scipy.stats.multivariate_normal(mu, S).pdf(x))
            return close(want, 1e-9 if x64 else 1e-4)(w)

        return check

    case(
        "gaussian_nodes weights 1/(n p)",
        ok(gnodes_check(40, mu2, S2)),
        lambda: fr.gaussian_nodes(key, 40, mu2, S2),
    )
    case(
        "gaussian_nodes mean +1e4",
        ok(gnodes_check(40, mu2 + 1e4, S2)),
        lambda: fr.gaussian_nodes(key, 40, mu2 + 1e4, S2),
        mode="x64",
    )
    case(
        "gaussian_nodes cov non-PD",
        err("cov"),
        lambda: fr.gaussian_nodes(key, 10, mu2, np.array([[1.0, 2.0], [2.0, 1.0]])),
    )
    case(
        "gaussian_nodes cov non-symmetric",
        err("cov"),
        lambda: fr.gaussian_nodes(key, 10, mu2, np.array([[1.0, 0.5], [0.0, 1.0]])),
    )
    case(
        "gaussian_nodes cov singular",
        err("cov"),
        lambda: fr.gaussian_nodes(key, 10, mu2, np.array([[1.0, 1.0], [1.0, 1.0]])),
    )
    case(
        "gaussian_nodes cov NaN",
        err("cov"),
        lambda: fr.gaussian_nodes(key, 10, mu2, np.array([[np.nan, 0.0], [0.0, 1.0]])),
    )
    case(
        "gaussian_nodes mean NaN",
        err("mean"),
        lambda: fr.gaussian_nodes(key, 10, [np.nan, 0.0], S2),
    )
    case(
        "gaussian_nodes mean/cov dim mismatch",
        err("mean", "cov"),
        lambda: fr.gaussian_nodes(key, 10, [0.0, 0.0, 0.0], S2),
    )
    case("gaussian_nodes num=0", err("num"), lambda: fr.gaussian_nodes(key, 0, mu2, S2))
    case(
        "gaussian_nodes num=2.5",
        err("num"),
        lambda: fr.gaussian_nodes(key, 2.5, mu2, S2),
    )
    case(
        "gaussian_nodes str mean",
        err("mean"),
        lambda: fr.gaussian_nodes(key, 4, "ab", S2),
    )
    case(
        "gaussian_nodes jit cov non-PD",
        err("cov"),
        lambda: jax.jit(lambda c: fr.gaussian_nodes(key, 4, jnp.zeros(2), c)[1])(
            jnp.array([[1.0, 2.0], [2.0, 1.0]])
        ),
    )

    def pgrid_check(A, B, na, nb, d):
        def check(r):
            bad = finite_check(r)
            if bad:
                return bad
            a, b, w = map(n64, r)
            J = na**d * nb
            if a.shape != (J, d) or b.shape != (J,) or w.shape != (J,):
                return f"wrong: shapes {a.shape} {b.shape} {w.shape}"
            vol = (2 * A) ** d * 2 * B
            return (
                None
                if abs(w.sum() - vol) < 1e-5 * vol
                else f"wrong: sum w {w.sum()} != {vol}"
            )

        return check

    case(
        "parameter_grid d=2",
        ok(pgrid_check(3.0, 2.0, 4, 5, 2)),
        lambda: fr.parameter_grid(3.0, 2.0, 4, 5, 2),
    )
    case(
        "parameter_grid num 1",
        ok(pgrid_check(1.0, 1.0, 1, 1, 1)),
        lambda: fr.parameter_grid(1.0, 1.0, 1, 1),
    )
    for kw, nm in (
        ({"a_max": -1.0}, "a_max"),
        ({"b_max": 0.0}, "b_max"),
        ({"a_max": float("nan")}, "a_max"),
        ({"b_max": float("inf")}, "b_max"),
        ({"num_a": 0}, "num_a"),
        ({"num_b": 2.5}, "num_b"),
        ({"dim": 0}, "dim"),
        ({"num_a": 10**5, "dim": 3}, "num_a"),
        ({"a_max": "x"}, "a_max"),
        ({"rule": "gauss"}, "rule"),
    ):
        args = {"a_max": 1.0, "b_max": 1.0, "num_a": 3, "num_b": 3, "dim": 1} | kw
        case(
            f"parameter_grid {kw}",
            err(nm, "dim"),
            lambda args=args: fr.parameter_grid(**args),
        )

    def sp_check(num, dim):
        def check(r):
            bad = finite_check(r)
            if bad:
                return bad
            a, b, w = map(n64, r)
            if (
                a.shape != (num, dim)
                or b.shape != (num,)
                or w.shape != (num,)
                or np.any(w <= 0)
            ):
                return f"wrong: shapes {a.shape} or w <= 0"
            return None

        return check

    for law in ("gaussian", "cauchy", "uniform"):
        case(
            f"sample_parameters {law}",
            ok(sp_check(30, 3)),
            lambda law=law: fr.sample_parameters(key, 30, 3, radius_law=law),
        )
    case(
        "sample_parameters uniform sum w ~ volume",
        ok(
            lambda r: (
                None
                if abs(
                    float(np.sum(n64(r[2])))
                    - 2 * np.pi * 1.0 * 0
                    - np.pi * (2 * (2 / 3 * 1 + 3.0))
                )
                < 0.05 * np.pi * 2 * 3.67
                else f"wrong: sum w {float(np.sum(n64(r[2])))}"
            )
        ),
        lambda: fr.sample_parameters(key, 20000, 2, radius_law="uniform"),
        mode="x64",
    )
    for kw, nm in (
        ({"num": 0}, "num"),
        ({"num": 1.5}, "num"),
        ({"dim": 0}, "dim"),
        ({"dim": "2"}, "dim"),
        ({"radius_law": "normal"}, "radius_law"),
        ({"a_scale": -1.0}, "a_scale"),
        ({"x_radius": float("nan")}, "x_radius"),
        ({"b_margin": -1.0}, "b_margin"),
        ({"num": 10**13}, "num"),
        ({"a_scale": True}, "a_scale"),
    ):
        args = {"num": 5, "dim": 2} | kw
        case(
            f"sample_parameters {kw}",
            err(nm),
            lambda args=args: fr.sample_parameters(
                key, args.pop("num"), args.pop("dim"), **args
            ),
        )
    case(
        "sample_parameters key str", err("key"), lambda: fr.sample_parameters("k", 5, 2)
    )

    # ----------------------------------------------------- ridgelet transforms
    n, J, d = 30, 12, 2
    X = jnp.asarray(rng.normal(size=(n, d)), F)
    Wn = jnp.asarray(rng.uniform(0.5, 1.5, size=n), F)
    A = jnp.asarray(rng.normal(size=(J, d)), F)
    Bv = jnp.asarray(rng.normal(size=J), F)
    fx = jnp.asarray(rng.normal(size=n), F)
    G = gk(2, 0.0)  # noqa: F841

    def rt_ref(fv, a, b, x, w, k=2, s=0.0):
        fv, a, b, x, w = map(n64, (fv, a, b, x, w))
        z = a @ x.T - b[:, None]
        out = gk(k, z) @ (w[:, None] * fv if fv.ndim == 2 else w * fv)
        return out * (np.linalg.norm(a, axis=1) ** s)[(...,) + (None,) * (fv.ndim - 1)]

    rho = fr.GaussianDerivative(2)
    rt = fr.ridgelet_transform
    case(
        "ridgelet_transform values",
        ok(close(rt_ref(fx, A, Bv, X, Wn))),
        lambda: rt(fx, rho, A, Bv, X, Wn),
    )
    case(
        "ridgelet_transform s=1",
        ok(close(rt_ref(fx, A, Bv, X, Wn, s=1.0))),
        lambda: rt(fx, rho, A, Bv, X, Wn, s=1.0),
    )
    case(
        "ridgelet_transform callable f",
        ok(close(rt_ref(np.sin(n64(X)[:, 0]), A, Bv, X, Wn), 1e-9 if x64 else 1e-4)),
        lambda: rt(lambda p: jnp.sin(p[0]), rho, A, Bv, X, Wn),
    )
    fk = jnp.asarray(rng.normal(size=(n, 3)), F)
    case(
        "ridgelet_transform vector f (n,k)",
        ok(close(rt_ref(fk, A, Bv, X, Wn))),
        lambda: rt(fk, rho, A, Bv, X, Wn),
    )
    case(
        "ridgelet_transform n=1",
        ok(close(rt_ref(fx[:1], A, Bv, X[:1], Wn[:1]))),
        lambda: rt(fx[:1], rho, A, Bv, X[:1], Wn[:1]),
    )
    case(
        "ridgelet_transform J=1",
        ok(close(rt_ref(fx, A[:1], Bv[:1], X, Wn))),
        lambda: rt(fx, rho, A[:1], Bv[:1], X, Wn),
    )
    X1, A1 = X[:, :1], A[:, :1]
    case(
        "ridgelet_transform d=1",
        ok(close(rt_ref(fx, A1, Bv, X1, Wn))),
        lambda: rt(fx, rho, A1, Bv, X1, Wn),
    )
    Xw = jnp.asarray(rng.normal(size=(8, 512)) / 20, F)
    Aw = jnp.asarray(rng.normal(size=(5, 512)), F)
    case(
        "ridgelet_transform d=512",
        ok(close(rt_ref(fx[:8], Aw, Bv[:5], Xw, Wn[:8]), 1e-9 if x64 else 1e-4)),
        lambda: rt(fx[:8], rho, Aw, Bv[:5], Xw, Wn[:8]),
    )
    Xd = jnp.concatenate([X[:5], X[:5]])
    case(
        "ridgelet_transform duplicated points",
        ok(close(rt_ref(fx[:10], A, Bv, Xd, Wn[:10]))),
        lambda: rt(fx[:10], rho, A, Bv, Xd, Wn[:10]),
    )
    case(
        "ridgelet_transform jit",
        ok(close(rt_ref(fx, A, Bv, X, Wn))),
        lambda: jax.jit(lambda f_, a_: rt(f_, rho, a_, Bv, X, Wn))(fx, A),
    )
    case(
        "ridgelet_transform jit NaN f",
        err("f"),
        lambda: jax.jit(lambda f_: rt(f_, rho, A, Bv, X, Wn))(fx.at[0].set(jnp.nan)),
    )
    case(
        "ridgelet_transform jit NaN x",
        err("x"),
        lambda: jax.jit(lambda x_: rt(fx, rho, A, Bv, x_, Wn))(X.at[0, 0].set(jnp.nan)),
    )
    case(
        "ridgelet_transform NaN a",
        err("a"),
        lambda: rt(fx, rho, A.at[0, 0].set(jnp.nan), Bv, X, Wn),
    )
    case(
        "ridgelet_transform inf b",
        err("b"),
        lambda: rt(fx, rho, A, Bv.at[0].set(jnp.inf), X, Wn),
    )
    case(
        "ridgelet_transform NaN w",
        err("w"),
        lambda: rt(fx, rho, A, Bv, X, Wn.at[1].set(jnp.nan)),
    )
    case(
        "ridgelet_transform NaN-returning f",
        err("f"),
        lambda: rt(lambda p: jnp.log(p[0] - 100.0), rho, A, Bv, X, Wn),
    )
    case(
        "ridgelet_transform x dim mismatch",
        err("x", "a"),
        lambda: rt(fx, rho, A, Bv, X[:, :1], Wn),
    )
    case(
        "ridgelet_transform w len mismatch",
        err("w"),
        lambda: rt(fx, rho, A, Bv, X, Wn[:5]),
    )
    case(
        "ridgelet_transform f len mismatch",
        err("f"),
        lambda: rt(fx[:5], rho, A, Bv, X, Wn),
    )
    case(
        "ridgelet_transform b len mismatch",
        err("b"),
        lambda: rt(fx, rho, A, Bv[:3], X, Wn),
    )
    case(
        "ridgelet_transform empty x",
        err("x"),
        lambda: rt(fx[:0], rho, A, Bv, X[:0], Wn[:0]),
    )
    case(
        "ridgelet_transform empty a",
        err("a"),
        lambda: rt(fx, rho, A[:0], Bv[:0], X, Wn),
    )
    case("ridgelet_transform x 1-d", err("x"), lambda: rt(fx, rho, A, Bv, X[:, 0], Wn))
    case("ridgelet_transform x str", err("x"), lambda: rt(fx, rho, A, Bv, "x", Wn))
    case(
        "ridgelet_transform rho str", err("rho"), lambda: rt(fx, "gauss", A, Bv, X, Wn)
    )
    case(
        "ridgelet_transform f list of str",
        err("f"),
        lambda: rt(["a"] * n, rho, A, Bv, X, Wn),
    )
    case(
        "ridgelet_transform chunk_size=0",
        err("chunk_size"),
        lambda: rt(fx, rho, A, Bv, X, Wn, chunk_size=0),
    )
    case(
        "ridgelet_transform chunk_size=2.5",
        err("chunk_size"),
        lambda: rt(fx, rho, A, Bv, X, Wn, chunk_size=2.5),
    )
    case(
        "ridgelet_transform chunk_size=1",
        ok(close(rt_ref(fx, A, Bv, X, Wn))),
        lambda: rt(fx, rho, A, Bv, X, Wn, chunk_size=1),
    )
    case(
        "ridgelet_transform max_tile_cols=-1",
        err("max_tile_cols"),
        lambda: rt(fx, rho, A, Bv, X, Wn, max_tile_cols=-1),
    )
    case(
        "ridgelet_transform s=nan",
        err("s"),
        lambda: rt(fx, rho, A, Bv, X, Wn, s=float("nan")),
    )
    case("ridgelet_transform s='1'", err("s"), lambda: rt(fx, rho, A, Bv, X, Wn, s="1"))
    case(
        "ridgelet_transform bfloat16 x",
        ok(),
        lambda: rt(fx, rho, A, Bv, X.astype(jnp.bfloat16), Wn),
    )
    case(
        "ridgelet_transform float16 all",
        ok(),
        lambda: rt(
            fx.astype(jnp.float16),
            rho,
            A.astype(jnp.float16),
            Bv.astype(jnp.float16),
            X.astype(jnp.float16),
            Wn.astype(jnp.float16),
        ),
    )
    case(
        "ridgelet_transform int x",
        ok(close(rt_ref(fx, A, Bv, np.round(n64(X) * 2), Wn))),
        lambda: rt(fx, rho, A, Bv, jnp.round(X * 2).astype(jnp.int32), Wn),
    )
    case(
        "ridgelet_transform mixed f32/f64",
        ok(close(rt_ref(fx.astype(jnp.float32), A, Bv, X, Wn))),
        lambda: rt(fx.astype(jnp.float32), rho, A, Bv, np.asarray(X, np.float64), Wn),
        mode="x64",
    )
    case(
        "ridgelet_transform complex f",
        ok(
            lambda r: (
                None
                if np.iscomplexobj(np.asarray(r))
                else "wrong: complex f lost its imaginary part"
            )
        ),
        lambda: rt(fx * (1 + 1j), rho, A, Bv, X, Wn),
    )
    case(
        "ridgelet_transform x 1e30 (rho underflows to 0: exact)",
        ok(close(lambda: rt_ref(fx, A, Bv, n64(X * 1e30), Wn), atol=1e-300)),
        lambda: rt(fx, rho, A, Bv, X * 1e30, Wn),
    )

    def dual_ref(g, a, b, w, x, s=0.0):
        g, a, b, x = map(n64, (g, a, b, x))
        w = np.ones(len(b)) if w is None else n64(w)
        return np.tanh(x @ a.T - b) @ (w * g * np.linalg.norm(a, axis=1) ** (-s))

    gam = jnp.asarray(rng.normal(size=J), F)
    drt = fr.dual_ridgelet_transform
    tanh = fr.Tanh()
    WJ = jnp.asarray(rng.uniform(0.5, 1.5, size=J), F)
    case(
        "dual values",
        ok(close(dual_ref(gam, A, Bv, WJ, X))),
        lambda: drt(gam, tanh, A, Bv, WJ, X),
    )
    case(
        "dual w=None",
        ok(close(dual_ref(gam, A, Bv, None, X))),
        lambda: drt(gam, tanh, A, Bv, None, X),
    )
    case(
        "dual s=2",
        ok(close(dual_ref(gam, A, Bv, WJ, X, 2.0))),
        lambda: drt(gam, tanh, A, Bv, WJ, X, s=2.0),
    )
    case(
        "dual jit",
        ok(close(dual_ref(gam, A, Bv, WJ, X))),
        lambda: jax.jit(lambda g: drt(g, tanh, A, Bv, WJ, X))(gam),
    )
    case(
        "dual jit NaN gamma",
        err("gamma"),
        lambda: jax.jit(lambda g: drt(g, tanh, A, Bv, WJ, X))(gam.at[0].set(jnp.nan)),
    )
    case(
        "dual NaN x",
        err("x"),
        lambda: drt(gam, tanh, A, Bv, WJ, X.at[0, 0].set(jnp.nan)),
    )
    case(
        "dual gamma len mismatch",
        err("gamma"),
        lambda: drt(gam[:3], tanh, A, Bv, WJ, X),
    )
    case(
        "dual x dim mismatch",
        err("x", "a"),
        lambda: drt(gam, tanh, A, Bv, WJ, jnp.ones((4, 3))),
    )
    case("dual w len mismatch", err("w"), lambda: drt(gam, tanh, A, Bv, WJ[:2], X))
    case("dual empty x", err("x"), lambda: drt(gam, tanh, A, Bv, WJ, X[:0]))
    case("dual sigma None", err("sigma"), lambda: drt(gam, None, A, Bv, WJ, X))
    case("dual gamma str", err("gamma"), lambda: drt("g", tanh, A, Bv, WJ, X))
    case("dual s=inf", err("s"), lambda: drt(gam, tanh, A, Bv, WJ, X, s=float("inf")))
    case(
        "dual chunk_size=-4",
        err("chunk_size"),
        lambda: drt(gam, tanh, A, Bv, WJ, X, chunk_size=-4),
    )
    case(
        "dual a=0 row with s>0",
        err("a", "s"),
        lambda: drt(gam, tanh, A.at[0].set(0.0), Bv, WJ, X, s=1.0),
    )

    # gaussian closed form vs 1-D quadrature
    def gauss_rt_quad(a, b, mu, var, k):
        out = []
        for aj, bj in zip(a[:, 0], b):
            v, _ = scipy.integrate.quad(
                lambda x: np.exp(-((x - mu) ** 2) / (2 * var)) * gk(k, aj * x - bj),
                mu - 40 * np.sqrt(var),
                mu + 40 * np.sqrt(var),
                limit=400,
            )
            out.append(v)
        return np.array(out)

    a1 = np.array([[0.7], [-1.3], [2.0]])
    b1 = np.array([0.2, -0.5, 1.0])
    for k in (0, 1, 3):
        case(
            f"gaussian_ridgelet_transform k={k} vs quad",
            ok(
                close(
                    gauss_rt_quad(a1, b1, 0.4, 1.5, k), 1e-7 if x64 else 1e-4, atol=1e-9
                )
            ),
            lambda k=k: fr.gaussian_ridgelet_transform(
                jnp.asarray(a1, F),
                jnp.asarray(b1, F),
                jnp.asarray([0.4], F),
                jnp.asarray([[1.5]], F),
                k,
            ),
        )
    grt = fr.gaussian_ridgelet_transform
    A2, B2 = jnp.asarray(rng.normal(size=(4, 2)), F), jnp.asarray(rng.normal(size=4), F)
    case(
        "gaussian_rt cov non-PD",
        err("cov"),
        lambda: grt(A2, B2, jnp.zeros(2), jnp.array([[1.0, 2.0], [2.0, 1.0]]), 1),
    )
    case(
        "gaussian_rt cov non-symmetric",
        err("cov"),
        lambda: grt(A2, B2, jnp.zeros(2), jnp.array([[1.0, 0.5], [0.0, 1.0]]), 1),
    )
    case(
        "gaussian_rt cov NaN",
        err("cov"),
        lambda: grt(A2, B2, jnp.zeros(2), jnp.array([[jnp.nan, 0.0], [0.0, 1.0]]), 1),
    )
    case(
        "gaussian_rt jit cov non-PD",
        err("cov"),
        lambda: jax.jit(lambda c: grt(A2, B2, jnp.zeros(2), c, 1))(
            jnp.array([[1.0, 2.0], [2.0, 1.0]], F)
        ),
    )
    case(
        "gaussian_rt mean dim mismatch",
        err("mean"),
        lambda: grt(A2, B2, jnp.zeros(3), jnp.eye(2), 1),
    )
    case(
        "gaussian_rt cov shape",
        err("cov"),
        lambda: grt(A2, B2, jnp.zeros(2), jnp.eye(3), 1),
    )
    for k in (-1, 2.5, "2", None, True, 10**6):
        case(
            f"gaussian_rt k={k!r}",
            err("k"),
            lambda k=k: grt(A2, B2, jnp.zeros(2), jnp.eye(2), k),
        )
    case(
        "gaussian_rt s=nan",
        err("s"),
        lambda: grt(A2, B2, jnp.zeros(2), jnp.eye(2), 1, s=float("nan")),
    )
    case(
        "gaussian_rt NaN a",
        err("a"),
        lambda: grt(A2.at[0, 0].set(jnp.nan), B2, jnp.zeros(2), jnp.eye(2), 1),
    )
    case(
        "gaussian_rt b len",
        err("b"),
        lambda: grt(A2, B2[:2], jnp.zeros(2), jnp.eye(2), 1),
    )
    case("gaussian_rt str mean", err("mean"), lambda: grt(A2, B2, "mu", jnp.eye(2), 1))
    case(
        "gaussian_rt mean shift 1e4 equivariant",
        ok(close(gauss_rt_quad(a1, b1, 0.4, 1.5, 2), 1e-7 if x64 else 5e-2, atol=1e-9)),
        lambda: grt(
            jnp.asarray(a1, F),
            jnp.asarray(b1 + 1e4 * a1[:, 0], F),
            jnp.asarray([1e4 + 0.4], F),
            jnp.asarray([[1.5]], F),
            2,
        ),
    )
    gmrt = fr.gaussian_mixture_ridgelet_transform
    means = jnp.asarray([[0.4], [-1.0]], F)
    covs = jnp.asarray([[[1.5]], [[0.3]]], F)
    coeffs = jnp.asarray([0.3, 1.2], F)
    case(
        "gaussian_mixture_rt = sum of bumps",
        ok(
            close(
                0.3 * gauss_rt_quad(a1, b1, 0.4, 1.5, 1)
                + 1.2 * gauss_rt_quad(a1, b1, -1.0, 0.3, 1),
                1e-7 if x64 else 1e-4,
                atol=1e-9,
            )
        ),
        lambda: gmrt(jnp.asarray(a1, F), jnp.asarray(b1, F), coeffs, means, covs, 1),
    )
    case(
        "gaussian_mixture_rt negative coeffs ok (signed bumps)",
        ok(),
        lambda: gmrt(jnp.asarray(a1, F), jnp.asarray(b1, F), -coeffs, means, covs, 1),
    )
    case(
        "gaussian_mixture_rt coeffs len",
        err("coeffs", "means"),
        lambda: gmrt(
            jnp.asarray(a1, F), jnp.asarray(b1, F), coeffs[:1], means, covs, 1
        ),
    )
    case(
        "gaussian_mixture_rt covs non-PD",
        err("covs", "cov"),
        lambda: gmrt(
            jnp.asarray(a1, F),
            jnp.asarray(b1, F),
            coeffs,
            means,
            covs.at[1].set(-1.0),
            1,
        ),
    )
    case(
        "gaussian_mixture_rt NaN coeffs",
        err("coeffs"),
        lambda: gmrt(
            jnp.asarray(a1, F),
            jnp.asarray(b1, F),
            coeffs.at[0].set(jnp.nan),
            means,
            covs,
            1,
        ),
    )
    case(
        "gaussian_mixture_rt means shape",
        err("means"),
        lambda: gmrt(
            jnp.asarray(a1, F), jnp.asarray(b1, F), coeffs, means[:, 0], covs, 1
        ),
    )
    case(
        "gaussian_mixture_rt empty",
        err("coeffs", "means"),
        lambda: gmrt(
            jnp.asarray(a1, F), jnp.asarray(b1, F), coeffs[:0], means[:0], covs[:0], 1
        ),
    )
    case(
        "gaussian_mixture_rt k=-2",
        err("k"),
        lambda: gmrt(jnp.asarray(a1, F), jnp.asarray(b1, F), coeffs, means, covs, -2),
    )

    # reconstruct: (1/P) S[R f] with an explicit pairing
    a_g, b_g, w_g = (n64(v) for v in fr.parameter_grid(4.0, 4.0, 6, 7, 1))
    x_g, w_x = (n64(v) for v in fr.grid_nodes(-3.0, 3.0, 25, 1))
    fv = np.exp(-(x_g[:, 0] ** 2))
    xe = np.array([[0.0], [0.5]])

    def recon_ref(P):
        gamma = rt_ref(fv, a_g, b_g, x_g, w_x, k=3)
        return dual_ref(gamma, a_g, b_g, w_g, xe) / P

    args_r = tuple(jnp.asarray(v, F) for v in (x_g, w_x, a_g, b_g, w_g, xe))
    rho3 = fr.GaussianDerivative(3)
    case(
        "reconstruct explicit pairing",
        ok(close(recon_ref(2.5), 1e-9 if x64 else 1e-4)),
        lambda: fr.reconstruct(jnp.asarray(fv, F), tanh, rho3, *args_r, pairing=2.5),
    )
    case(
        "reconstruct computed pairing",
        ok(
            close(
                lambda: recon_ref(fr.admissibility(tanh, rho3, 1)),
                1e-9 if x64 else 1e-4,
            )
        ),
        lambda: fr.reconstruct(jnp.asarray(fv, F), tanh, rho3, *args_r),
    )
    case(
        "reconstruct not admissible",
        err("vanish", "admissible"),
        lambda: fr.reconstruct(
            jnp.asarray(fv, F), fr.Gaussian(), fr.GaussianDerivative(1), *args_r
        ),
    )
    for P in (0.0, float("nan"), float("inf"), "1"):
        case(
            f"reconstruct pairing={P!r}",
            err("pairing"),
            lambda P=P: fr.reconstruct(
                jnp.asarray(fv, F), tanh, rho3, *args_r, pairing=P
            ),
        )
    case(
        "reconstruct x_eval dim",
        err("x_eval"),
        lambda: fr.reconstruct(
            jnp.asarray(fv, F), tanh, rho3, *args_r[:5], jnp.ones((2, 2)), pairing=1.0
        ),
    )
    case(
        "reconstruct x_eval NaN",
        err("x_eval"),
        lambda: fr.reconstruct(
            jnp.asarray(fv, F),
            tanh,
            rho3,
            *args_r[:5],
            jnp.asarray([[jnp.nan]]),
            pairing=1.0,
        ),
    )
    case(
        "reconstruct w_ab len",
        err("w_ab", "w"),
        lambda: fr.reconstruct(
            jnp.asarray(fv, F),
            tanh,
            rho3,
            *args_r[:4],
            args_r[4][:3],
            args_r[5],
            pairing=1.0,
        ),
    )
    case(
        "reconstruct jit",
        ok(close(recon_ref(2.5), 1e-9 if x64 else 1e-4)),
        lambda: jax.jit(
            lambda f_: fr.reconstruct(f_, tanh, rho3, *args_r, pairing=2.5)
        )(jnp.asarray(fv, F)),
    )

    # ------------------------------------------------------- integral networks
    c_net = jnp.asarray(rng.normal(size=J), F)
    net = fr.IntegralNetwork(A, Bv, c_net, tanh, jnp.asarray(0.5, F))

    def net_ref(x):
        return np.tanh(n64(x) @ n64(A).T - n64(Bv)) @ n64(c_net) + 0.5

    case("IntegralNetwork call", ok(close(net_ref(X[0:1])[0])), lambda: net(X[0]))
    case("IntegralNetwork evaluate", ok(close(net_ref(X))), lambda: net.evaluate(X))
    case(
        "IntegralNetwork jit call",
        ok(close(net_ref(X[0:1])[0])),
        lambda: eqx.filter_jit(lambda m, x: m(x))(net, X[0]),
    )
    case(
        "IntegralNetwork a 1-d",
        err("a"),
        lambda: fr.IntegralNetwork(A[:, 0], Bv, c_net, tanh),
    )
    case(
        "IntegralNetwork b len",
        err("b"),
        lambda: fr.IntegralNetwork(A, Bv[:3], c_net, tanh),
    )
    case(
        "IntegralNetwork c len",
        err("c"),
        lambda: fr.IntegralNetwork(A, Bv, c_net[:3], tanh),
    )
    case(
        "IntegralNetwork NaN a",
        err("a"),
        lambda: fr.IntegralNetwork(A.at[0, 0].set(jnp.nan), Bv, c_net, tanh),
    )
    case(
        "IntegralNetwork sigma str unknown",
        err("sigma"),
        lambda: fr.IntegralNetwork(A, Bv, c_net, "nope"),
    )
    case(
        "IntegralNetwork bias shape",
        err("bias"),
        lambda: fr.IntegralNetwork(A, Bv, c_net, tanh, jnp.ones(3)),
    )
    case("IntegralNetwork call wrong dim", err("x"), lambda: net(jnp.ones(3)))
    case(
        "IntegralNetwork call NaN x",
        err("x"),
        lambda: net(jnp.array([jnp.nan, 0.0], F)),
    )
    case("IntegralNetwork call str", err("x"), lambda: net("x"))
    case("IntegralNetwork evaluate empty", err("x"), lambda: net.evaluate(X[:0]))
    mlp = eqx.nn.MLP(2, 1, 5, 1, activation=jax.nn.relu, key=key)
    case(
        "IntegralNetwork.from_mlp matches MLP",
        ok(close(lambda: n64(jax.vmap(mlp)(X.astype(jnp.float32))), 1e-5)),
        lambda: jax.vmap(fr.IntegralNetwork.from_mlp(mlp))(X.astype(jnp.float32)),
    )
    case(
        "IntegralNetwork.from_mlp deep MLP",
        err("mlp", "depth", "hidden"),
        lambda: fr.IntegralNetwork.from_mlp(eqx.nn.MLP(2, 1, 5, 2, key=key)),
    )
    case(
        "IntegralNetwork.from_mlp not an MLP",
        err("mlp"),
        lambda: fr.IntegralNetwork.from_mlp("mlp"),
    )

    Yr = jnp.sin(X[:, 0]) + X[:, 1] ** 2

    def refit_ref(netc, x, y, ridge):
        phi = np.tanh(n64(x) @ n64(netc.a).T - n64(netc.b))
        # the output bias c_0 is kept fixed: c fits y - c_0
        c0 = 0.0 if netc.bias is None else n64(netc.bias)
        g = phi.T @ phi
        lam = ridge * np.mean(np.diag(g))
        c = np.linalg.solve(g + lam * np.eye(len(g)), phi.T @ (n64(y) - c0))
        return phi @ c + c0

    net0 = fr.IntegralNetwork(A, Bv, c_net, tanh)
    case(
        "refit_output fit vs numpy ridge",
        ok(
            close(
                refit_ref(net0, X, Yr, 1e-3),
                1e-7 if x64 else 1e-3,
                get=lambda m: m.evaluate(X),
            )
        ),
        lambda: fr.refit_output(net0, X, Yr, ridge=1e-3),
    )
    case(
        "refit_output with bias vs numpy",
        ok(
            close(
                refit_ref(net, X, Yr, 1e-3),
                1e-7 if x64 else 1e-3,
                get=lambda m: m.evaluate(X),
            )
        ),
        lambda: fr.refit_output(net, X, Yr, ridge=1e-3),
    )
    case(
        "refit_output shifted targets +1e4 (bias)",
        ok(
            close(
                refit_ref(net, X, Yr + 1e4, 1e-3),
                1e-7 if x64 else 1e-3,
                get=lambda m: m.evaluate(X),
            )
        ),
        lambda: fr.refit_output(net, X, Yr + 1e4, ridge=1e-3),
    )
    for r_ in (-1.0, float("nan"), float("inf"), "0.1"):
        case(
            f"refit_output ridge={r_!r}",
            err("ridge"),
            lambda r_=r_: fr.refit_output(net0, X, Yr, ridge=r_),
        )
    # `ridge=None` is now the default (a dtype-aware weight: 1e-8 in float64)
    case(
        "refit_output ridge=None (dtype default)",
        ok(
            close(
                refit_ref(net0, X, Yr, 1e-8 if x64 else 1e-8 * 2**14.5),
                1e-7 if x64 else 1e-3,
                get=lambda m: m.evaluate(X),
            )
        ),
        lambda: fr.refit_output(net0, X, Yr, ridge=None),
    )
    case(
        "refit_output ridge=0 (legal)",
        ok(),
        lambda: fr.refit_output(net0, X, Yr, ridge=0.0),
        mode="x64",
    )
    case("refit_output y len", err("y"), lambda: fr.refit_output(net0, X, Yr[:3]))
    case(
        "refit_output y NaN",
        err("y"),
        lambda: fr.refit_output(net0, X, Yr.at[0].set(jnp.nan)),
    )
    case(
        "refit_output x NaN",
        err("x"),
        lambda: fr.refit_output(net0, X.at[0, 0].set(jnp.inf), Yr),
    )
    case("refit_output x dim", err("x"), lambda: fr.refit_output(net0, X[:, :1], Yr))
    case("refit_output empty", err("x"), lambda: fr.refit_output(net0, X[:0], Yr[:0]))
    case("refit_output net str", err("net"), lambda: fr.refit_output("net", X, Yr))
    case(
        "refit_output single sample",
        ok(),
        lambda: fr.refit_output(net0, X[:1], Yr[:1], ridge=1e-3),
    )
    case(
        "refit_output jit NaN y",
        err("y"),
        lambda: eqx.filter_jit(lambda y: fr.refit_output(net0, X, y).c)(
            Yr.at[0].set(jnp.nan)
        ),
    )

    gam_s = jnp.asarray(rng.normal(size=J), F)
    case(
        "sample_network unbiased-ish finite",
        ok(lambda m: finite_check(m.evaluate(X))),
        lambda: fr.sample_network(gam_s, A, Bv, WJ, tanh, 50, key=key),
    )
    case(
        "sample_network refit",
        ok(lambda m: finite_check(m.evaluate(X))),
        lambda: fr.sample_network(gam_s, A, Bv, WJ, tanh, 8, key=key, refit=(X, Yr)),
    )
    case(
        "sample_network large num_units mean ~ dual",
        ok(close(dual_ref(gam_s, A, Bv, WJ, X), 0.05, get=lambda m: m.evaluate(X))),
        lambda: fr.sample_network(gam_s, A, Bv, WJ, tanh, 200000, key=key),
        mode="x64",
    )
    for nu in (0, 2.5, "3", True, 10**12):
        case(
            f"sample_network num_units={nu!r}",
            err("num_units"),
            lambda nu=nu: fr.sample_network(gam_s, A, Bv, WJ, tanh, nu, key=key),
        )
    case(
        "sample_network zero gamma",
        err("gamma"),
        lambda: fr.sample_network(jnp.zeros(J, F), A, Bv, WJ, tanh, 5, key=key),
    )
    case(
        "sample_network NaN gamma",
        err("gamma"),
        lambda: fr.sample_network(
            gam_s.at[0].set(jnp.nan), A, Bv, WJ, tanh, 5, key=key
        ),
    )
    case(
        "sample_network signed w (a signed measure is legal)",
        ok(lambda m: finite_check(m.evaluate(X))),
        lambda: fr.sample_network(gam_s, A, Bv, -WJ, tanh, 5, key=key),
    )
    case(
        "sample_network gamma len",
        err("gamma"),
        lambda: fr.sample_network(gam_s[:3], A, Bv, WJ, tanh, 5, key=key),
    )
    case(
        "sample_network bad key",
        err("key"),
        lambda: fr.sample_network(gam_s, A, Bv, WJ, tanh, 5, key=3),
    )
    case(
        "sample_network sigma unknown",
        err("sigma"),
        lambda: fr.sample_network(gam_s, A, Bv, WJ, "nope", 5, key=key),
    )
    case(
        "sample_network ridge -1",
        err("ridge"),
        lambda: fr.sample_network(
            gam_s, A, Bv, WJ, tanh, 5, key=key, refit=(X, Yr), ridge=-1.0
        ),
    )
    case(
        "sample_network refit not pair",
        err("refit"),
        lambda: fr.sample_network(gam_s, A, Bv, WJ, tanh, 5, key=key, refit=X),
    )

    # ================================================================ depth
    Alin = np.array([[-0.3, 0.8], [-0.6, 0.1]])

    def lin(t, x, args):
        return jnp.asarray(Alin, x.dtype) @ x

    X0 = jnp.asarray(rng.normal(size=(6, 2)), F)
    ref_t1 = n64(X0) @ scipy.linalg.expm(Alin).T
    ftol = 1e-6 if x64 else 1e-4
    case(
        "flow linear field = expm",
        ok(close(ref_t1, ftol, get=lambda r: r.tracks[-1])),
        lambda: fr.flow(
            lin, X0, 0.0, 1.0, rtol=1e-9 if x64 else 1e-6, atol=1e-10 if x64 else 1e-7
        ),
    )
    case(
        "flow backward = inverse",
        ok(
            close(
                n64(X0) @ scipy.linalg.expm(-Alin).T, ftol, get=lambda r: r.tracks[-1]
            )
        ),
        lambda: fr.flow(
            lin, X0, 0.0, -1.0, rtol=1e-9 if x64 else 1e-6, atol=1e-10 if x64 else 1e-7
        ),
    )
    case(
        "flow single point (d,)",
        ok(close(ref_t1[0], ftol, get=lambda r: r.tracks[-1])),
        lambda: fr.flow(
            lin,
            X0[0],
            0.0,
            1.0,
            rtol=1e-9 if x64 else 1e-6,
            atol=1e-10 if x64 else 1e-7,
        ),
    )
    case(
        "flow rk4 num_steps",
        ok(close(ref_t1, 1e-5, get=lambda r: r.tracks[-1])),
        lambda: fr.flow(lin, X0, 0.0, 1.0, solver="rk4", num_steps=50),
    )
    case(
        "flow ts",
        ok(
            close(
                np.stack(
                    [n64(X0) @ scipy.linalg.expm(t * Alin).T for t in (0.0, 0.5, 1.0)]
                ),
                ftol,
                get=lambda r: r.tracks,
            )
        ),
        lambda: fr.flow(
            lin,
            X0,
            0.0,
            1.0,
            ts=jnp.asarray([0.0, 0.5, 1.0], F),
            rtol=1e-9 if x64 else 1e-6,
            atol=1e-10 if x64 else 1e-7,
        ),
    )
    case(
        "flow exact log density = -t tr A",
        ok(
            close(
                np.full(6, -np.trace(Alin)),
                ftol,
                get=lambda r: r.log_density_tracks[-1] - r.log_density_tracks[0],
            )
        ),
        lambda: fr.flow(lin, X0, 0.0, 1.0, log_density="exact"),
    )
    case(
        "flow jit",
        ok(close(ref_t1, 1e-4, get=lambda r: r)),
        lambda: jax.jit(lambda x: fr.flow(lin, x, 0.0, 1.0).tracks[-1])(X0),
    )
    case(
        "flow jit NaN x0",
        err("x0"),
        lambda: jax.jit(lambda x: fr.flow(lin, x, 0.0, 1.0).tracks[-1])(
            X0.at[0, 0].set(jnp.nan)
        ),
    )
    case(
        "flow shifted x0 + 1e4 (affine eq.)",
        ok(
            close(
                n64(X0 + 1e4) @ scipy.linalg.expm(Alin).T,
                1e-6 if x64 else 1e-4,
                get=lambda r: r.tracks[-1],
            )
        ),
        lambda: fr.flow(lin, X0 + 1e4, 0.0, 1.0),
    )
    case(
        "flow scaled x0 * 1e-3",
        ok(
            close(
                n64(X0 * 1e-3) @ scipy.linalg.expm(Alin).T,
                1e-5 if x64 else 1e-4,
                get=lambda r: r.tracks[-1],
            )
        ),
        lambda: fr.flow(lin, X0 * 1e-3, 0.0, 1.0),
    )
    case(
        "flow float16 x0",
        ok(
            close(
                n64(X0.astype(jnp.float16)) @ scipy.linalg.expm(Alin).T,
                1e-3,
                get=lambda r: r.tracks[-1],
            )
        ),
        lambda: fr.flow(lin, X0.astype(jnp.float16), 0.0, 1.0),
    )
    case(
        "flow bfloat16 x0",
        ok(
            close(
                n64(X0.astype(jnp.bfloat16)) @ scipy.linalg.expm(Alin).T,
                1e-3,
                get=lambda r: r.tracks[-1],
            )
        ),
        lambda: fr.flow(lin, X0.astype(jnp.bfloat16), 0.0, 1.0),
    )
    case(
        "flow int x0",
        ok(
            close(
                np.round(n64(X0)) @ scipy.linalg.expm(Alin).T,
                1e-4,
                get=lambda r: r.tracks[-1],
            )
        ),
        lambda: fr.flow(lin, jnp.round(X0).astype(jnp.int32), 0.0, 1.0),
    )
    case(
        "flow float32 x0 under x64",
        ok(
            close(
                n64(X0.astype(jnp.float32)) @ scipy.linalg.expm(Alin).T,
                1e-4,
                get=lambda r: r.tracks[-1],
            )
        ),
        lambda: fr.flow(lin, X0.astype(jnp.float32), 0.0, 1.0),
        mode="x64",
    )
    case(
        "flow NaN x0",
        err("x0"),
        lambda: fr.flow(lin, X0.at[0, 0].set(jnp.nan), 0.0, 1.0),
    )
    case(
        "flow x0 1e30 blows up named",
        err("x0", "overflow", "range", "inf", "nan"),
        lambda: fr.flow(lambda t, x, a: x * x, X0 * 1e30, 0.0, 1.0),
    )
    case(
        "flow NaN field",
        err("field", "nan"),
        lambda: fr.flow(lambda t, x, a: jnp.log(x - 100.0), X0, 0.0, 1.0),
    )
    case("flow x0 3-d", err("x0"), lambda: fr.flow(lin, X0[None], 0.0, 1.0))
    case("flow x0 empty", err("x0"), lambda: fr.flow(lin, X0[:0], 0.0, 1.0))
    case("flow x0 str", err("x0"), lambda: fr.flow(lin, "x0", 0.0, 1.0))
    case(
        "flow x0 complex", err("x0", "complex"), lambda: fr.flow(lin, X0 * 1j, 0.0, 1.0)
    )
    case("flow field not callable", err("field"), lambda: fr.flow(3, X0, 0.0, 1.0))
    case("flow plain fn without t0", err("t0"), lambda: fr.flow(lin, X0))
    for kw, nm in (
        ({"t1": float("inf")}, "t1"),
        ({"t0": float("nan")}, "t0"),
        ({"t1": "1"}, "t1"),
        ({"t1": 0.0}, "t1"),
        ({"rtol": -1.0}, "rtol"),
        ({"rtol": 0.0, "atol": 0.0}, "tol"),
        ({"atol": float("nan")}, "atol"),
        ({"num_steps": 2.5, "solver": "euler"}, "num_steps"),
        ({"num_steps": 0, "solver": "euler"}, "num_steps"),
        ({"num_steps": True, "solver": "euler"}, "num_steps"),
        ({"dt0": 0.0, "solver": "euler"}, "dt0"),
        ({"solver": "euler"}, "dt0"),
        ({"solver": "nope"}, "solver"),
        ({"max_steps": 0}, "max_steps"),
        ({"max_steps": 2.5}, "max_steps"),
        ({"log_density": "yes"}, "log_density"),
        ({"log_density": "hutchinson"}, "key"),
        ({"num_probes": 0, "log_density": "hutchinson", "key": key}, "num_probes"),
        ({"adjoint": "magic"}, "adjoint"),
        ({"throw": "yes"}, "throw"),
        ({"kinetic": 1}, "kinetic"),
        ({"ts": jnp.asarray([0.0, 1.0, 0.5])}, "ts"),
        ({"ts": jnp.asarray([0.0, jnp.nan, 1.0])}, "ts"),
        ({"ts": jnp.zeros((2, 2))}, "ts"),
        ({"ts": jnp.asarray([0.0, 2.0])}, "ts"),
    ):
        args = {"t0": 0.0, "t1": 1.0} | kw
        case(
            f"flow { ({k: (v if not hasattr(v, 'shape') else np.asarray(v).ravel()[:4].tolist()) for k, v in kw.items()}) }",
            err(nm),
            lambda args=args: fr.flow(lin, X0, **args),
        )
    case(
        "flow dt0 < 0 forward (sign from t1 - t0, documented)",
        ok(
            close(
                n64(X0) @ np.linalg.matrix_power(np.eye(2) + 0.1 * Alin, 10).T,
                1e-9 if x64 else 1e-5,
                get=lambda r: r.tracks[-1],
            )
        ),
        lambda: fr.flow(lin, X0, 0.0, 1.0, solver="euler", dt0=-0.1),
    )
    case(
        "flow max_steps too small reported",
        err("max_steps", "steps"),
        lambda: fr.flow(
            lambda t, x, a: 50 * jnp.sin(30 * x), X0, 0.0, 1.0, max_steps=3
        ),
    )
    case(
        "flow blow-up named",
        err("diverge", "blow", "inf", "nan", "step"),
        lambda: fr.flow(lambda t, x, a: x**2, X0 + 5.0, 0.0, 10.0),
    )
    case(
        "flow throw=False blow-up result flagged",
        ok(
            lambda r: (
                "silent: blow-up reported as successful"
                if bool(r.result == diffrax.RESULTS.successful)
                else None
            )
        ),
        lambda: fr.flow(lambda t, x, a: x**2, X0 + 5.0, 0.0, 10.0, throw=False),
    )

    rf = fr.RidgeletField.random(jr.PRNGKey(1), 2, 8, dtype=F)
    case(
        "flow RidgeletField finite",
        ok(lambda r: finite_check(r.tracks)),
        lambda: fr.flow(rf, X0),
    )
    case(
        "flow RidgeletField x0 dim", err("x0"), lambda: fr.flow(rf, jnp.ones((3, 3), F))
    )
    case(
        "flow RidgeletField kinetic & jacobian",
        ok(lambda r: finite_check((r.kinetic, r.jacobian_frobenius))),
        lambda: fr.flow(rf, X0, kinetic=True, jacobian=True, key=key),
    )

    # flow_entropy: linear field, H_t = H_0 + t tr(A)
    res_ld = fr.flow(
        lin, X0, 0.0, 1.0, ts=jnp.asarray([0.0, 0.5, 1.0], F), log_density="exact"
    )
    ld0 = jnp.asarray(
        scipy.stats.multivariate_normal(np.zeros(2), np.eye(2)).logpdf(n64(X0)), F
    )
    H0 = -float(np.mean(n64(ld0)))
    case(
        "flow_entropy linear = H0 + t trA",
        ok(
            close(
                H0 + np.array([0.0, 0.5, 1.0]) * np.trace(Alin), 1e-5 if x64 else 1e-4
            )
        ),
        lambda: fr.flow_entropy(res_ld, ld0),
    )
    case(
        "flow_entropy no log density",
        err("log_density", "result"),
        lambda: fr.flow_entropy(fr.flow(lin, X0, 0.0, 1.0), ld0),
    )
    case(
        "flow_entropy not a FlowResult",
        err("result"),
        lambda: fr.flow_entropy("r", ld0),
    )
    case(
        "flow_entropy ld0 shape",
        err("log_density0"),
        lambda: fr.flow_entropy(res_ld, ld0[:3]),
    )
    case(
        "flow_entropy ld0 NaN",
        err("log_density0"),
        lambda: fr.flow_entropy(res_ld, ld0.at[0].set(jnp.nan)),
    )
    case(
        "flow_entropy ld0 str",
        err("log_density0"),
        lambda: fr.flow_entropy(res_ld, "x"),
    )
    case(
        "flow_entropy jit NaN",
        err("log_density0"),
        lambda: jax.jit(lambda ld: fr.flow_entropy(res_ld, ld))(ld0.at[0].set(jnp.nan)),
    )

    # RidgeletField
    Ak = jnp.asarray(rng.normal(size=(1, 4, 2)), F)
    Bk = jnp.asarray(rng.normal(size=(1, 4)), F)
    Ck = jnp.asarray(rng.normal(size=(1, 4, 2)), F)

    def rf_ref(x):
        return np.tanh(n64(x) @ n64(Ak[0]).T - n64(Bk[0])) @ n64(Ck[0])

    case(
        "RidgeletField constant basis value",
        ok(close(rf_ref(X0[:1])[0])),
        lambda: fr.RidgeletField(Ak, Bk, Ck, basis="constant")(0.3, X0[0]),
    )
    case(
        "RidgeletField a/c mismatch",
        err("c", "a"),
        lambda: fr.RidgeletField(Ak, Bk, Ck[:, :3], basis="constant"),
    )
    case(
        "RidgeletField b shape",
        err("b"),
        lambda: fr.RidgeletField(Ak, Bk[:, :2], Ck, basis="constant"),
    )
    case(
        "RidgeletField NaN c",
        err("c"),
        lambda: fr.RidgeletField(Ak, Bk, Ck.at[0, 0, 0].set(jnp.nan), basis="constant"),
    )
    case(
        "RidgeletField basis unknown",
        err("basis"),
        lambda: fr.RidgeletField(Ak, Bk, Ck, basis="spline"),
    )
    case(
        "RidgeletField sigma unknown",
        err("sigma"),
        lambda: fr.RidgeletField(Ak, Bk, Ck, basis="constant", sigma="nope"),
    )
    case(
        "RidgeletField t0>=t1",
        err("t0", "t1"),
        lambda: fr.RidgeletField(Ak, Bk, Ck, basis="constant", t0=1.0, t1=1.0),
    )
    case(
        "RidgeletField t1 inf",
        err("t1"),
        lambda: fr.RidgeletField(Ak, Bk, Ck, basis="constant", t0=0.0, t1=float("inf")),
    )
    case(
        "RidgeletField call x wrong dim",
        err("x"),
        lambda: fr.RidgeletField(Ak, Bk, Ck, basis="constant")(0.0, jnp.ones(3)),
    )
    case(
        "RidgeletField call NaN t",
        err("t"),
        lambda: fr.RidgeletField(Ak, Bk, Ck, basis="constant")(float("nan"), X0[0]),
    )
    case(
        "RidgeletField str a",
        err("a"),
        lambda: fr.RidgeletField("a", Bk, Ck, basis="constant"),
    )
    for kw, nm in (
        ({"dim": 0}, "dim"),
        ({"num_units": 2.5}, "num_units"),
        ({"num_units": 10**11}, "num_units"),
        ({"num_knots": 0}, "num_knots"),
        ({"scale": float("inf")}, "scale"),
        ({"output_scale": float("nan")}, "output_scale"),
        ({"t0": 1.0, "t1": 0.0}, "t0"),
        ({"dtype": jnp.int32}, "dtype"),
        ({"dtype": "float16x"}, "dtype"),
        ({"basis": "x"}, "basis"),
        ({"dim": True}, "dim"),
    ):
        args = {"dim": 2, "num_units": 4} | kw
        case(
            f"RidgeletField.random {kw}",
            err(nm, "t1"),
            lambda args=args: fr.RidgeletField.random(
                key, args.pop("dim"), args.pop("num_units"), **args
            ),
        )
    case(
        "RidgeletField.random key str",
        err("key"),
        lambda: fr.RidgeletField.random("k", 2, 4),
    )
    case(
        "RidgeletField.random bfloat16 dtype",
        ok(lambda f: finite_check(f(0.5, jnp.ones(2, jnp.bfloat16)))),
        lambda: fr.RidgeletField.random(key, 2, 4, dtype=jnp.bfloat16),
    )
    case(
        "RidgeletField.from_units linear",
        ok(lambda f: finite_check(f(0.5, X0[0]))),
        lambda: fr.RidgeletField.from_units(
            [Ak[0], Ak[0]], [Bk[0], Bk[0]], [Ck[0], Ck[0]], [0.0, 1.0]
        ),
    )
    case(
        "RidgeletField.from_units = constant values",
        ok(close(rf_ref(X0[:1])[0], get=lambda f: f(0.3, X0[0]))),
        lambda: fr.RidgeletField.from_units(
            [Ak[0], Ak[0]], [Bk[0], Bk[0]], [Ck[0], Ck[0]], [0.0, 1.0]
        ),
    )
    case(
        "RidgeletField.from_units ts unsorted",
        err("ts"),
        lambda: fr.RidgeletField.from_units(
            [Ak[0], Ak[0]], [Bk[0], Bk[0]], [Ck[0], Ck[0]], [1.0, 0.0]
        ),
    )
    case(
        "RidgeletField.from_units ts len",
        err("ts"),
        lambda: fr.RidgeletField.from_units(
            [Ak[0], Ak[0]], [Bk[0], Bk[0]], [Ck[0], Ck[0]], [0.0, 0.5, 1.0, 2.0]
        ),
    )
    case(
        "RidgeletField.from_units ts NaN",
        err("ts"),
        lambda: fr.RidgeletField.from_units(
            [Ak[0], Ak[0]], [Bk[0], Bk[0]], [Ck[0], Ck[0]], [0.0, float("nan")]
        ),
    )
    case(
        "RidgeletField.from_units empty",
        err("a_list", "ts"),
        lambda: fr.RidgeletField.from_units([], [], [], []),
    )
    # from_field: v(x) = -x reconstructed (smoke: finite, error classes)
    case(
        "RidgeletField.from_field bad t_knots",
        err("t_knots"),
        lambda: fr.RidgeletField.from_field(
            lin, rho, A, Bv, X, Wn, [1.0, 0.0], sigma=tanh, unit_weights=WJ, pairing=1.0
        ),
    )
    case(
        "RidgeletField.from_field unit_weights len",
        err("unit_weights"),
        lambda: fr.RidgeletField.from_field(
            lin,
            rho,
            A,
            Bv,
            X,
            Wn,
            [0.0, 1.0],
            sigma=tanh,
            unit_weights=WJ[:2],
            pairing=1.0,
        ),
    )
    case(
        "RidgeletField.from_field pairing 0",
        err("pairing"),
        lambda: fr.RidgeletField.from_field(
            lin, rho, A, Bv, X, Wn, [0.0, 1.0], sigma=tanh, unit_weights=WJ, pairing=0.0
        ),
    )

    # euler_network: linear field -> (I + hA)^L
    for L in (1, 3, 10):
        h = 1.0 / L
        M = np.linalg.matrix_power(np.eye(2) + h * Alin, L)
        case(
            f"euler_network linear L={L}",
            ok(close(n64(X0[0]) @ M.T, 1e-9 if x64 else 1e-5)),
            lambda L=L: fr.euler_network(lin, L, t0=0.0, t1=1.0, dim=2)(X0[0]),
        )
    for dep in (0, -2, 2.5, "3", None, True):
        case(
            f"euler_network depth={dep!r}",
            err("depth"),
            lambda dep=dep: fr.euler_network(lin, dep, t0=0.0, t1=1.0, dim=2),
        )
    case(
        "euler_network depth 1e8 memory",
        err("depth"),
        lambda: fr.euler_network(rf, 10**8),
    )
    case(
        "euler_network plain fn without dim",
        err("dim"),
        lambda: fr.euler_network(lin, 3, t0=0.0, t1=1.0),
    )
    case(
        "euler_network t0 == t1",
        err("t0", "t1"),
        lambda: fr.euler_network(lin, 3, t0=1.0, t1=1.0, dim=2),
    )
    case(
        "euler_network t1 inf",
        err("t1"),
        lambda: fr.euler_network(lin, 3, t0=0.0, t1=float("inf"), dim=2),
    )
    case(
        "euler_network t0 nan",
        err("t0"),
        lambda: fr.euler_network(rf, 3, t0=float("nan")),
    )
    case(
        "euler_network dim 0",
        err("dim"),
        lambda: fr.euler_network(lin, 3, t0=0.0, t1=1.0, dim=0),
    )
    case(
        "euler_network field str",
        err("field"),
        lambda: fr.euler_network("f", 3, t0=0.0, t1=1.0, dim=2),
    )
    case(
        "euler_network call wrong dim",
        err("x"),
        lambda: fr.euler_network(lin, 3, t0=0.0, t1=1.0, dim=2)(jnp.ones(3)),
    )
    case(
        "euler_network call NaN",
        err("x"),
        lambda: fr.euler_network(lin, 3, t0=0.0, t1=1.0, dim=2)(
            jnp.array([jnp.nan, 0.0])
        ),
    )
    case(
        "euler_network RidgeletField ~ flow O(1/L)",
        ok(lambda e: None if e < 0.02 else f"wrong: error {e}"),
        lambda: float(
            jnp.max(
                jnp.abs(
                    jax.vmap(fr.euler_network(rf, 400))(X0)
                    - fr.flow(rf, X0, rtol=1e-8, atol=1e-8).tracks[-1]
                )
            )
        ),
    )
    case(
        "EulerNetwork direct",
        ok(
            close(
                n64(X0[0]) @ (np.eye(2) + 0.5 * Alin).T @ (np.eye(2) + 0.5 * Alin).T,
                1e-9 if x64 else 1e-5,
            )
        ),
        lambda: fr.EulerNetwork(lin, None, 0.0, 1.0, 2, 2)(X0[0]),
    )
    case(
        "EulerNetwork depth 0",
        err("depth"),
        lambda: fr.EulerNetwork(lin, None, 0.0, 1.0, 0, 2),
    )

    # ResNet
    resnet = fr.ResNet.random(jr.PRNGKey(2), 2, 4, 3)

    def resnet_ref(x):
        x = n64(x)
        bl = resnet.blocks
        for j in range(3):
            z = x @ n64(bl.a[j]).T - n64(bl.b[j])
            x = x + np.maximum(z, 0) @ n64(bl.c[j]) + n64(bl.bias[j])
        return x

    case(
        "ResNet forward = numpy",
        ok(close(resnet_ref(X0[:1])[0], 1e-9 if x64 else 1e-5)),
        lambda: resnet(X0[0].astype(resnet.blocks.a.dtype)),
    )
    case(
        "ResNet jit",
        ok(close(resnet_ref(X0[:1])[0], 1e-9 if x64 else 1e-5)),
        lambda: eqx.filter_jit(lambda m, x: m(x))(
            resnet, X0[0].astype(resnet.blocks.a.dtype)
        ),
    )
    case("ResNet call wrong dim", err("x"), lambda: resnet(jnp.ones(3)))
    case("ResNet call NaN", err("x"), lambda: resnet(jnp.array([jnp.nan, 0.0])))
    case("ResNet call batch (n,d)", err("x", "vmap"), lambda: resnet(X0))
    for kw, nm in (
        ({"dim": 0}, "dim"),
        ({"width": 0}, "width"),
        ({"depth": 0}, "depth"),
        ({"depth": 2.5}, "depth"),
        ({"depth": 10**9}, "depth"),
        ({"activation": "nope"}, "activation"),
        ({"t1": float("nan")}, "t1"),
        ({"scale": float("nan")}, "scale"),
        ({"use_bias": "yes"}, "use_bias"),
        ({"width": "4"}, "width"),
        ({"t0": 1.0, "t1": 1.0}, "t0"),
    ):
        args = {"dim": 2, "width": 4, "depth": 3} | kw
        case(
            f"ResNet.random {kw}",
            err(nm, "t1"),
            lambda args=args: fr.ResNet.random(
                key, args.pop("dim"), args.pop("width"), args.pop("depth"), **args
            ),
        )
    case("ResNet blocks str", err("blocks"), lambda: fr.ResNet("blocks"))
    case("ResNet unstacked blocks", err("blocks"), lambda: fr.ResNet(net0))
    case("ResNet t1 inf", err("t1"), lambda: fr.ResNet(resnet.blocks, t1=float("inf")))
    case(
        "resnet_block_weights values",
        ok(
            close(
                lambda: np.concatenate(
                    [
                        n64(resnet.blocks.a).reshape(3, -1),
                        n64(resnet.blocks.b).reshape(3, -1),
                        n64(resnet.blocks.c).reshape(3, -1) * 3,
                        n64(resnet.blocks.bias).reshape(3, -1) * 3,
                    ],
                    1,
                ),
                1e-6,
            )
        ),
        lambda: fr.resnet_block_weights(resnet),
    )
    case(
        "resnet_block_weights not resnet",
        err("resnet"),
        lambda: fr.resnet_block_weights(net0),
    )
    rfield = fr.field_from_resnet(resnet)
    case(
        "field_from_resnet round trip",
        ok(close(resnet_ref(X0[:1])[0], 1e-9 if x64 else 1e-5)),
        lambda: fr.euler_network(rfield, 3)(X0[0].astype(resnet.blocks.a.dtype)),
    )
    case(
        "field_from_resnet ridgelet round trip",
        ok(close(resnet_ref(X0[:1])[0], 1e-9 if x64 else 1e-5)),
        lambda: fr.euler_network(fr.field_from_resnet(resnet, "ridgelet"), 3)(
            X0[0].astype(resnet.blocks.a.dtype)
        ),
    )
    case(
        "field_from_resnet kind unknown",
        err("kind"),
        lambda: fr.field_from_resnet(resnet, "spline"),
    )
    case(
        "field_from_resnet not resnet", err("resnet"), lambda: fr.field_from_resnet("r")
    )
    case("ResNetField call wrong dim", err("x"), lambda: rfield(0.5, jnp.ones(3)))
    case("ResNetField call NaN t", err("t"), lambda: rfield(jnp.nan, X0[0]))
    case(
        "ResNetField direct depth mismatch",
        err("depth", "blocks"),
        lambda: fr.ResNetField(resnet.blocks, 0.0, 1.0, 5, 2),
    )

    # depth smoothness: brute-force increments
    Wst = rng.normal(size=(6, 3, 2))

    def ds_ref(W):
        return np.max(np.linalg.norm((W[1:] - W[:-1]).reshape(len(W) - 1, -1), axis=1))

    case(
        "depth_smoothness max increment",
        ok(close([ds_ref(Wst)], 1e-5, get=lambda r: r.max_increment)),
        lambda: fr.depth_smoothness(jnp.asarray(Wst, F)),
    )
    case(
        "depth_smoothness list of arrays",
        ok(close([ds_ref(Wst)], 1e-5, get=lambda r: r.max_increment)),
        lambda: fr.depth_smoothness([jnp.asarray(w, F) for w in Wst]),
    )
    smooth = [
        np.stack([np.full((2,), np.sin(j / L)) for j in range(L)])
        for L in (8, 16, 32, 64)
    ]
    case(
        "depth_smoothness beta = 1 for smooth weights",
        ok(close(1.0, 0.05, get=lambda r: r.beta)),
        lambda: fr.depth_smoothness([jnp.asarray(w, F) for w in smooth]),
    )
    case(
        "depth_smoothness DepthSmoothness fields finite or documented None",
        ok(lambda r: finite_check(r.increment_norms)),
        lambda: fr.depth_smoothness(jnp.asarray(Wst, F)),
    )
    case(
        "depth_smoothness depth 1",
        err("depth", "networks"),
        lambda: fr.depth_smoothness(jnp.ones((1, 3))),
    )
    case(
        "depth_smoothness NaN",
        err("networks", "nan"),
        lambda: fr.depth_smoothness(jnp.asarray(Wst).at[0, 0, 0].set(jnp.nan)),
    )
    case(
        "depth_smoothness empty list", err("networks"), lambda: fr.depth_smoothness([])
    )
    case("depth_smoothness str", err("networks"), lambda: fr.depth_smoothness("net"))
    case("depth_smoothness None", err("networks"), lambda: fr.depth_smoothness(None))
    case(
        "depth_smoothness x without resnets",
        err("x"),
        lambda: fr.depth_smoothness(jnp.asarray(Wst, F), x=X0),
    )
    case(
        "depth_smoothness x wrong dim",
        err("x"),
        lambda: fr.depth_smoothness(resnet, x=jnp.ones((3, 5))),
    )
    case(
        "depth_smoothness resnet with x",
        ok(lambda r: finite_check(r.tracks_deviation)),
        lambda: fr.depth_smoothness(resnet, x=X0.astype(resnet.blocks.a.dtype)),
    )
    case(
        "depth_smoothness float16 weights",
        ok(
            close(
                [ds_ref(n64(jnp.asarray(Wst, jnp.float16)))],
                1e-3,
                get=lambda r: r.max_increment,
            )
        ),
        lambda: fr.depth_smoothness(jnp.asarray(Wst, jnp.float16)),
    )
    case(
        "depth_smoothness int weights",
        ok(close([ds_ref(np.round(Wst))], 1e-5, get=lambda r: r.max_increment)),
        lambda: fr.depth_smoothness(jnp.asarray(np.round(Wst), jnp.int32)),
    )
    case(
        "depth_smoothness weights 1e30",
        ok(close([ds_ref(Wst * 1e30)], 1e-5, get=lambda r: r.max_increment)),
        lambda: fr.depth_smoothness(jnp.asarray(Wst * 1e30, F)),
    )

    # rotation_log
    def rot(d, seed):
        q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
        if np.linalg.det(q) < 0:
            q[:, 0] *= -1
        return q

    for d_, seed in ((2, 0), (3, 1), (5, 2)):
        R = rot(d_, seed)
        case(
            f"rotation_log d={d_} expm(G)=R",
            ok(
                lambda G, R=R: (
                    close(R, 1e-9)(scipy.linalg.expm(np.asarray(G)))
                    or (
                        None
                        if np.allclose(G, -np.asarray(G).T, atol=1e-10)
                        else "wrong: not skew"
                    )
                )
            ),
            lambda R=R: fr.rotation_log(R),
        )
    R180 = np.diag([-1.0, -1.0, 1.0])
    case(
        "rotation_log angle pi",
        ok(lambda G: close(R180, 1e-9)(scipy.linalg.expm(np.asarray(G)))),
        lambda: fr.rotation_log(R180),
    )
    case(
        "rotation_log identity d=1",
        ok(close(np.zeros((1, 1)))),
        lambda: fr.rotation_log(np.eye(1)),
    )
    case(
        "rotation_log float32 input",
        ok(lambda G: close(rot(3, 1), 1e-6)(scipy.linalg.expm(np.asarray(G)))),
        lambda: fr.rotation_log(jnp.asarray(rot(3, 1), jnp.float32)),
    )
    case(
        "rotation_log det -1",
        err("r", "determinant"),
        lambda: fr.rotation_log(np.diag([1.0, -1.0])),
    )
    case(
        "rotation_log not orthogonal",
        err("r", "orthogonal"),
        lambda: fr.rotation_log(np.array([[1.0, 0.5], [0.0, 1.0]])),
    )
    case(
        "rotation_log not square",
        err("r", "square"),
        lambda: fr.rotation_log(np.ones((2, 3))),
    )
    case(
        "rotation_log NaN",
        err("r"),
        lambda: fr.rotation_log(np.array([[np.nan, 0.0], [0.0, 1.0]])),
    )
    case("rotation_log str", err("r"), lambda: fr.rotation_log("R"))
    case("rotation_log empty", err("r"), lambda: fr.rotation_log(np.zeros((0, 0))))
    case("rotation_log 1-d", err("r"), lambda: fr.rotation_log(np.ones(3)))

    # plain nets (Li & Shi)
    W1 = rot(2, 4) @ np.diag([1.5, 0.7])
    b1_ = np.array([0.3, -0.2])
    layers = [(W1, b1_), (rot(2, 5) @ np.diag([0.9, 1.2]), None)]

    def plain_ref(x):
        x = n64(x)
        h = np.maximum(x @ W1.T + b1_, 0)
        return h @ layers[1][0].T

    pnf = fr.plain_net_flow(layers, activation=jax.nn.relu)
    Xp = jnp.asarray(np.abs(rng.normal(size=(5, 2))) + 0.5, F)
    case(
        "plain_net_flow flow = plain net",
        ok(close(plain_ref(Xp), 1e-3, get=lambda r: r.tracks[-1])),
        lambda: fr.flow(
            pnf, Xp, rtol=1e-8 if x64 else 1e-6, atol=1e-8 if x64 else 1e-6
        ),
    )
    case(
        "refine n=200 ~ plain net (3%)",
        ok(close(plain_ref(Xp), 0.08)),
        lambda: jax.vmap(fr.refine(pnf, 200))(Xp),
    )
    case(
        "refine converges at O(1/n)",
        ok(
            lambda r: (
                None
                if 1.6 < r < 2.5
                else f"wrong: error ratio n=100/n=200 is {r:.3g}, not ~2"
            )
        ),
        lambda: float(
            np.max(np.abs(n64(jax.vmap(fr.refine(pnf, 100))(Xp)) - plain_ref(Xp)))
            / np.max(np.abs(n64(jax.vmap(fr.refine(pnf, 200))(Xp)) - plain_ref(Xp)))
        ),
    )
    case(
        "plain_net_flow non-square",
        err("net", "square", "W"),
        lambda: fr.plain_net_flow([(np.ones((2, 3)), None)]),
    )
    case(
        "plain_net_flow det<0",
        err("det", "W", "orientation"),
        lambda: fr.plain_net_flow([(np.diag([1.0, -1.0]), None)]),
    )
    case(
        "plain_net_flow singular",
        err("det", "W", "singular"),
        lambda: fr.plain_net_flow([(np.zeros((2, 2)), None)]),
    )
    case(
        "plain_net_flow NaN weights",
        err("nan", "W", "net"),
        lambda: fr.plain_net_flow([(np.array([[np.nan, 0.0], [0.0, 1.0]]), None)]),
    )
    case(
        "plain_net_flow bias len",
        err("b", "bias"),
        lambda: fr.plain_net_flow([(np.eye(2), np.ones(3))]),
    )
    case(
        "plain_net_flow tanh activation",
        err("activation"),
        lambda: fr.plain_net_flow(layers, activation=jnp.tanh),
    )
    case("plain_net_flow empty", err("net"), lambda: fr.plain_net_flow([]))
    case("plain_net_flow str", err("net"), lambda: fr.plain_net_flow("net"))
    case(
        "plain_net_flow relu_eps -1",
        err("relu_eps"),
        lambda: fr.plain_net_flow(layers, relu_eps=-1.0),
    )
    case(
        "plain_net_flow relu_eps nan",
        err("relu_eps"),
        lambda: fr.plain_net_flow(layers, relu_eps=float("nan")),
    )
    case(
        "plain_net_flow dtype int",
        err("dtype"),
        lambda: fr.plain_net_flow(layers, dtype=jnp.int32),
    )
    case(
        "plain_net_flow MLP non-square",
        err("net", "in_size", "width"),
        lambda: fr.plain_net_flow(eqx.nn.MLP(2, 1, 3, 1, key=key)),
    )
    case(
        "plain_net_flow mismatched dims",
        err("net", "dimension", "layer"),
        lambda: fr.plain_net_flow([(np.eye(2), None), (np.eye(3), None)]),
    )
    for n_ in (0, 2.5, "4", True, 10**9):
        case(f"refine n={n_!r}", err("n"), lambda n_=n_: fr.refine(pnf, n_))
    case("PlainNetField call wrong dim", err("x"), lambda: pnf(0.5, jnp.ones(3)))
    case(
        "PlainNetField call NaN x",
        err("x"),
        lambda: pnf(0.5, jnp.array([jnp.nan, 1.0])),
    )

    # ---------------------------------------------------------- losses, fit
    Xa = jnp.asarray(rng.normal(size=(20, 2)), F)
    Ya = jnp.asarray(rng.normal(size=(20, 2)) * 0.8 + 1.0, F)
    mse_ref = float(np.mean(np.sum((n64(Xa) - n64(Ya)) ** 2, 1)))
    case("mse_loss value", ok(close(mse_ref, 1e-6)), lambda: fr.mse_loss(Xa, Ya))
    case(
        "mse_loss shift 1e4",
        ok(
            close(
                lambda: float(np.mean(np.sum((n64(Xa + 1e4) - n64(Ya + 1e4)) ** 2, 1))),
                1e-6,
            )
        ),
        lambda: fr.mse_loss(Xa + 1e4, Ya + 1e4),
    )
    case(
        "mse_loss scale 1e-3",
        ok(close(mse_ref * 1e-6, 1e-4)),
        lambda: fr.mse_loss(Xa * 1e-3, Ya * 1e-3),
    )
    case(
        "mse_loss bfloat16",
        ok(),
        lambda: fr.mse_loss(Xa.astype(jnp.bfloat16), Ya.astype(jnp.bfloat16)),
    )
    case(
        "mse_loss mixed f32/f64",
        ok(
            close(
                lambda: float(
                    np.mean(np.sum((n64(Xa.astype(jnp.float32)) - n64(Ya)) ** 2, 1))
                ),
                1e-6,
            )
        ),
        lambda: fr.mse_loss(Xa.astype(jnp.float32), Ya.astype(jnp.float64)),
        mode="x64",
    )
    case("mse_loss shape mismatch", err("y", "x"), lambda: fr.mse_loss(Xa, Ya[:5]))
    case("mse_loss dim mismatch", err("y", "x"), lambda: fr.mse_loss(Xa, Ya[:, :1]))
    case("mse_loss NaN y", err("y"), lambda: fr.mse_loss(Xa, Ya.at[0, 0].set(jnp.nan)))
    case(
        "mse_loss jit NaN x",
        err("x"),
        lambda: jax.jit(fr.mse_loss)(Xa.at[0, 0].set(jnp.nan), Ya),
    )
    case("mse_loss empty", err("x"), lambda: fr.mse_loss(Xa[:0], Ya[:0]))
    case("mse_loss str", err("x"), lambda: fr.mse_loss("x", Ya))
    case(
        "mse_loss 1e30 overflow",
        err("x", "y", "overflow", "range"),
        lambda: (
            fr.mse_loss(Xa * 1e30, Ya * 1e30)
            if not x64
            else fr.mse_loss(Xa * 1e200, Ya * 1e200)
        ),
    )

    def sinkhorn_div_ref(x, y, eps, iters=3000):
        # independent log-domain Sinkhorn, ott's convention: S = OT(x,y) - (OT(x,x)+OT(y,y))/2,
        # OT = <P, C> + eps KL(P | a b^T) at the optimum = dual objective <f,a>+<g,b>
        from scipy.special import logsumexp

        def ot(u, v):
            c = np.sum((u[:, None] - v[None]) ** 2, -1)
            la, lb = (
                -np.log(len(u)) * np.ones(len(u)),
                -np.log(len(v)) * np.ones(len(v)),
            )
            f, g = np.zeros(len(u)), np.zeros(len(v))
            for _ in range(iters):
                f = -eps * logsumexp((g[None] - c) / eps + lb[None], 1)
                g = -eps * logsumexp((f[:, None] - c) / eps + la[:, None], 0)
            return np.mean(f) + np.mean(g)

        x, y = n64(x), n64(y)
        return ot(x, y) - 0.5 * (ot(x, x) + ot(y, y))

    Xs, Ys = Xa[:12], Ya[:12]
    sref = sinkhorn_div_ref(Xs, Ys, 0.5)
    case(
        "sinkhorn_loss vs numpy Sinkhorn",
        ok(close(sref, 1e-3)),
        lambda: fr.sinkhorn_loss(Xs, Ys, 0.5),
    )
    case(
        "sinkhorn_loss(x, x) = 0",
        ok(close(0.0, atol=1e-5 if x64 else 1e-4)),
        lambda: fr.sinkhorn_loss(Xs, Xs, 0.5),
    )
    case(
        "sinkhorn_loss shift 1e4 f32",
        ok(
            close(
                lambda: sinkhorn_div_ref(
                    (Xs + 1e4).astype(jnp.float32), (Ys + 1e4).astype(jnp.float32), 0.5
                ),
                2e-3,
                atol=1e-4,
            )
        ),
        lambda: fr.sinkhorn_loss(
            (Xs + 1e4).astype(jnp.float32), (Ys + 1e4).astype(jnp.float32), 0.5
        ),
    )
    case(
        "sinkhorn_loss scale 1e-3 (eps scaled)",
        ok(close(sref * 1e-6, 1e-3)),
        lambda: fr.sinkhorn_loss(Xs * 1e-3, Ys * 1e-3, 0.5e-6),
    )
    case(
        "sinkhorn_loss scale 1e4 (eps scaled)",
        ok(close(sref * 1e8, 1e-3)),
        lambda: fr.sinkhorn_loss(Xs * 1e4, Ys * 1e4, 0.5e8),
    )
    case(
        "sinkhorn_loss n != p",
        ok(close(sinkhorn_div_ref(Xs, Ys[:7], 0.5), 1e-3)),
        lambda: fr.sinkhorn_loss(Xs, Ys[:7], 0.5),
    )
    case(
        "sinkhorn_loss single sample each = |x-y|^2",
        ok(close(float(np.sum((n64(Xs[0]) - n64(Ys[0])) ** 2)), 1e-4)),
        lambda: fr.sinkhorn_loss(Xs[:1], Ys[:1], 0.5),
    )
    case(
        "sinkhorn_loss duplicated points",
        ok(close(sinkhorn_div_ref(jnp.concatenate([Xs[:6], Xs[:6]]), Ys, 0.5), 1e-3)),
        lambda: fr.sinkhorn_loss(jnp.concatenate([Xs[:6], Xs[:6]]), Ys, 0.5),
    )
    case(
        "sinkhorn_loss d=1",
        ok(close(sinkhorn_div_ref(Xs[:, :1], Ys[:, :1], 0.5), 1e-3)),
        lambda: fr.sinkhorn_loss(Xs[:, :1], Ys[:, :1], 0.5),
    )
    case(
        "sinkhorn_loss bfloat16",
        ok(),
        lambda: fr.sinkhorn_loss(Xs.astype(jnp.bfloat16), Ys.astype(jnp.bfloat16), 0.5),
    )
    case(
        "sinkhorn_loss float16",
        ok(),
        lambda: fr.sinkhorn_loss(Xs.astype(jnp.float16), Ys.astype(jnp.float16), 0.5),
    )
    case(
        "sinkhorn_loss int",
        ok(
            close(
                sinkhorn_div_ref(np.round(n64(Xs) * 3), np.round(n64(Ys) * 3), 0.5),
                2e-3,
            )
        ),
        lambda: fr.sinkhorn_loss(
            jnp.round(Xs * 3).astype(jnp.int32),
            jnp.round(Ys * 3).astype(jnp.int32),
            0.5,
        ),
    )
    case(
        "sinkhorn_loss mixed f32/f64",
        ok(close(sref, 1e-3)),
        lambda: fr.sinkhorn_loss(Xs.astype(jnp.float32), Ys.astype(jnp.float64), 0.5),
        mode="x64",
    )
    case(
        "sinkhorn_loss jit",
        ok(close(sref, 1e-3)),
        lambda: jax.jit(lambda a, b: fr.sinkhorn_loss(a, b, 0.5))(Xs, Ys),
    )
    case(
        "sinkhorn_loss jit NaN",
        err("x"),
        lambda: jax.jit(lambda a, b: fr.sinkhorn_loss(a, b, 0.5))(
            Xs.at[0, 0].set(jnp.nan), Ys
        ),
    )
    case(
        "sinkhorn_loss NaN y",
        err("y"),
        lambda: fr.sinkhorn_loss(Xs, Ys.at[0, 0].set(jnp.nan)),
    )
    case(
        "sinkhorn_loss dim mismatch",
        err("y", "dimension"),
        lambda: fr.sinkhorn_loss(Xs, Ys[:, :1]),
    )
    case("sinkhorn_loss empty", err("x"), lambda: fr.sinkhorn_loss(Xs[:0], Ys))
    case("sinkhorn_loss str", err("x"), lambda: fr.sinkhorn_loss("x", Ys))
    case(
        "sinkhorn_loss 1e30",
        err("x", "y", "overflow", "range"),
        lambda: (
            fr.sinkhorn_loss(Xs * 1e30, Ys * 1e30)
            if not x64
            else fr.sinkhorn_loss(Xs * 1e200, Ys * 1e200)
        ),
    )
    for eps in (0.0, -0.1, float("nan"), float("inf"), "0.1", None, True):
        case(
            f"sinkhorn_loss epsilon={eps!r}",
            err("epsilon"),
            lambda eps=eps: fr.sinkhorn_loss(Xs, Ys, eps),
        )
    for kw, nm in (
        ({"stream_pairs": 0}, "stream_pairs"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"batch_size": -1}, "batch_size"),
        ({"throw": "no"}, "throw"),
    ):
        case(
            f"sinkhorn_loss {kw}",
            err(nm),
            lambda kw=kw: fr.sinkhorn_loss(Xs, Ys, 0.5, **kw),
        )
    case(
        "sinkhorn_loss streamed = dense",
        ok(close(sref, 1e-3)),
        lambda: fr.sinkhorn_loss(Xs, Ys, 0.5, stream_pairs=10, batch_size=4),
    )

    fld = fr.RidgeletField.random(jr.PRNGKey(3), 2, 4, basis="constant", dtype=F)
    fkw = dict(key=key, steps=2, steps_per_call=1, progress=False, loss="mse")
    case(
        "fit mse 2 steps finite",
        ok(
            lambda r: (
                finite_check(r[1]["loss"])
                if "loss" in r[1]
                else finite_check(jax.tree.leaves(r[1]))
            )
        ),
        lambda: fr.fit(fld, Xa, Ya, **fkw),
    )
    case(
        "fit mse decreases loss",
        ok(
            lambda r: (
                None
                if float(np.asarray(r[1]["loss"])[-1])
                < float(np.asarray(r[1]["loss"])[0])
                else f"wrong: loss {np.asarray(r[1]['loss'])}"
            )
        ),
        lambda: fr.fit(
            fld,
            Xa,
            Ya,
            **(fkw | {"steps": 30, "steps_per_call": 10, "learning_rate": 0.02}),
        ),
    )
    for kw, nm in (
        ({"steps": 0}, "steps"),
        ({"steps": 2.5}, "steps"),
        ({"steps": "3"}, "steps"),
        ({"learning_rate": -0.1}, "learning_rate"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"weight_decay": -1.0}, "weight_decay"),
        ({"kinetic_reg": -1.0}, "kinetic_reg"),
        ({"jacobian_reg": float("nan")}, "jacobian_reg"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"batch_size": 10**6}, "batch_size"),
        ({"epsilon": 0.0, "loss": "sinkhorn"}, "epsilon"),
        ({"epsilon": -1.0, "loss": "sinkhorn"}, "epsilon"),
        ({"loss": "l1"}, "loss"),
        ({"loss": 3}, "loss"),
        ({"t1": float("inf")}, "t1"),
        ({"t0": 1.0, "t1": 1.0}, "t0"),
        ({"steps_per_call": 0}, "steps_per_call"),
        ({"progress": "yes"}, "progress"),
        ({"flow_kwargs": "x"}, "flow_kwargs"),
        ({"flow_kwargs": {"rtol": -1.0}}, "rtol"),
        ({"key": "k"}, "key"),
        ({"sinkhorn_backend": "pot", "loss": "sinkhorn"}, "sinkhorn_backend"),
        ({"optimizer": "adam"}, "optimizer"),
        ({"gradient": "yes"}, "gradient"),
    ):
        case(
            f"fit { ({k: v for k, v in kw.items()}) }",
            err(nm, "t1"),
            lambda kw=kw: fr.fit(fld, Xa, Ya, **(fkw | kw)),
        )
    case(
        "fit learning_rate=0 (documented: >= 0)",
        ok(lambda r: finite_check(np.asarray(r[1]["loss"]))),
        lambda: fr.fit(fld, Xa, Ya, **(fkw | {"learning_rate": 0.0})),
    )
    case(
        "fit NaN source",
        err("source"),
        lambda: fr.fit(fld, Xa.at[0, 0].set(jnp.nan), Ya, **fkw),
    )
    case(
        "fit inf target",
        err("target"),
        lambda: fr.fit(fld, Xa, Ya.at[0, 0].set(jnp.inf), **fkw),
    )
    case(
        "fit source dim vs field",
        err("source"),
        lambda: fr.fit(fld, jnp.ones((5, 3), F), jnp.ones((5, 3), F), **fkw),
    )
    case(
        "fit target dim mismatch",
        err("target"),
        lambda: fr.fit(fld, Xa, Ya[:, :1], **fkw),
    )
    case(
        "fit mse n mismatch",
        err("target", "source"),
        lambda: fr.fit(fld, Xa, Ya[:5], **fkw),
    )
    case("fit empty source", err("source"), lambda: fr.fit(fld, Xa[:0], Ya[:0], **fkw))
    case("fit field str", err("field"), lambda: fr.fit("field", Xa, Ya, **fkw))
    case(
        "fit under jit not jittable",
        err("jit", "jittable", "traced", "source"),
        lambda: jax.jit(lambda s: fr.fit(fld, s, Ya, **fkw)[1]["loss"])(Xa),
    )
    case(
        "fit float32 clouds under x64",
        ok(lambda r: finite_check(np.asarray(r[1]["loss"]))),
        lambda: fr.fit(fld, Xa.astype(jnp.float32), Ya.astype(jnp.float32), **fkw),
        mode="x64",
    )
    case(
        "fit bfloat16 clouds",
        ok(lambda r: finite_check(np.asarray(r[1]["loss"]))),
        lambda: fr.fit(fld, Xa.astype(jnp.bfloat16), Ya.astype(jnp.bfloat16), **fkw),
    )
    case(
        "fit sinkhorn float32 under x64",
        ok(lambda r: finite_check(np.asarray(r[1]["loss"]))),
        lambda: fr.fit(
            fld,
            Xa.astype(jnp.float32),
            Ya.astype(jnp.float32),
            **(fkw | {"loss": "sinkhorn", "epsilon": 0.5}),
        ),
        mode="x64",
    )

    # ---------------------------------------------------------- checkpoints
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="harness_models_"))
    like = fr.RidgeletField.random(jr.PRNGKey(7), 2, 4, dtype=F)
    other = fr.RidgeletField.random(jr.PRNGKey(8), 2, 5, dtype=F)

    def roundtrip(path):
        def fn():
            fr.save_field(path, like)
            back = fr.load_field(
                path, fr.RidgeletField.random(jr.PRNGKey(9), 2, 4, dtype=F)
            )
            return back

        return fn

    def same_as_like(back):
        return (
            None
            if eqx.tree_equal(back, like) is True or bool(eqx.tree_equal(back, like))
            else "wrong: loaded field differs"
        )

    for nm in ("model", "model.eqx", "a b/ü.ckpt", ".hidden", "x" * 200):
        p = tmp / nm
        p.parent.mkdir(parents=True, exist_ok=True)
        case(f"save/load path {nm[:20]!r}", ok(same_as_like), roundtrip(p))
    case("save/load str path", ok(same_as_like), roundtrip(str(tmp / "strpath")))
    case(
        "save/load relative path",
        ok(same_as_like),
        lambda: (os.chdir(tmp), roundtrip("rel.ckpt")())[1],
    )
    case(
        "save_field missing dir",
        err("path"),
        lambda: fr.save_field(tmp / "nope" / "f", like),
    )
    ro = tmp / "ro"
    ro.mkdir()
    os.chmod(ro, 0o500)
    case(
        "save_field unwritable dir",
        err("path") if os.geteuid() != 0 else ("ok", lambda r: None),
        lambda: fr.save_field(ro / "f", like),
    )
    case("save_field path is dir", err("path"), lambda: fr.save_field(tmp, like))
    case("save_field path None", err("path"), lambda: fr.save_field(None, like))
    case("save_field path int", err("path"), lambda: fr.save_field(3, like))
    case("save_field path ''", err("path"), lambda: fr.save_field("", like))
    case(
        "save_field field str", err("field"), lambda: fr.save_field(tmp / "s", "field")
    )
    case(
        "save_field field with NaN (saved as is?)",
        ok(lambda r: None),
        lambda: fr.save_field(
            tmp / "nanf", eqx.tree_at(lambda f: f.c, like, like.c * jnp.nan)
        ),
    )
    good = tmp / "good"
    fr.save_field(good, like)
    raw = good.read_bytes()
    (tmp / "trunc").write_bytes(raw[: len(raw) // 2])
    (tmp / "trunc1").write_bytes(raw[:-1])
    flipped = bytearray(raw)
    flipped[len(raw) // 3] ^= 0xFF
    (tmp / "flip").write_bytes(bytes(flipped))
    (tmp / "empty").write_bytes(b"")
    (tmp / "text").write_text("hello, not a checkpoint\n")
    (tmp / "junk").write_bytes(os.urandom(len(raw)))
    for nm in ("trunc", "trunc1", "flip", "empty", "text", "junk"):
        case(
            f"load_field {nm} file",
            err("path", nm),
            lambda nm=nm: fr.load_field(tmp / nm, like),
        )
    case(
        "load_field missing",
        err("path", "missing"),
        lambda: fr.load_field(tmp / "missing", like),
    )
    case("load_field dir", err("path"), lambda: fr.load_field(tmp, like))
    case(
        "load_field mismatched template (J)",
        err("like", "path", "match"),
        lambda: fr.load_field(good, other),
    )
    case(
        "load_field mismatched dtype",
        err("like", "dtype", "match"),
        lambda: fr.load_field(
            good,
            jax.tree.map(
                lambda a: a.astype(jnp.float16) if eqx.is_inexact_array(a) else a, like
            ),
        ),
    )
    case(
        "load_field mismatched type (ResNet)",
        err("like", "match", "path"),
        lambda: fr.load_field(good, resnet),
    )
    case("load_field like=None", err("like"), lambda: fr.load_field(good, None))
    case("load_field path None", err("path"), lambda: fr.load_field(None, like))
    case(
        "load_field eval_shape template",
        ok(same_as_like),
        lambda: fr.load_field(
            good,
            eqx.filter_eval_shape(
                fr.RidgeletField.random, jr.PRNGKey(1), 2, 4, dtype=F
            ),
        ),
    )
    case(
        "save twice overwrites",
        ok(same_as_like),
        lambda: (
            fr.save_field(good, other),
            fr.save_field(good, like),
            fr.load_field(good, like),
        )[2],
    )
    case(
        "save_field leaves no temp files",
        ok(
            lambda r: (
                None
                if not [p for p in tmp.iterdir() if ".tmp" in p.name]
                else f"wrong: temp files {[p.name for p in tmp.iterdir() if '.tmp' in p.name]}"
            )
        ),
        lambda: (fr.save_field(tmp / "clean", like), 0)[1] or jnp.zeros(1),
    )

    return calls


# ------------------------------------------------------------------ runner


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def judge(expect, fn, timeout):
    import equinox as eqx
    import jax

    kind, arg = expect
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        out = fn()
        if not isinstance(out, (str, float, int, complex)):
            out = jax.block_until_ready(out)
    except Hang:
        return "hang", f"no answer in {timeout} s"
    except Exception as e:  # noqa: BLE001
        signal.alarm(0)
        text = str(e)
        lines = [ln for ln in text.strip().splitlines() if ln.strip()]
        brief = next(
            (ln for ln in lines if "`" in ln or "Error" in ln),
            lines[0] if lines else "",
        )[:200]
        desc = f"{type(e).__name__}: {brief}"
        if kind == "ok":
            return "crash", desc
        # under jit an eqx.error_if surfaces as XLA's runtime error wrapping it
        wrapped = (
            type(e).__name__ == "JaxRuntimeError" and "EquinoxRuntimeError" in text
        )
        good_type = wrapped or isinstance(
            e, (TypeError, ValueError, MemoryError, OSError, eqx.EquinoxRuntimeError)
        )
        internal = any(
            s in type(e).__name__
            for s in (
                "Tracer",
                "Concretization",
                "Assertion",
                "Index",
                "Key",
                "Attribute",
                "ZeroDivision",
            )
        )
        if internal or not good_type:
            return "crash", desc
        # an error raised from deep inside a dependency rather than flowrep's boundary
        tb = traceback.extract_tb(e.__traceback__)
        origin = tb[-1].filename if tb else ""
        if (
            not wrapped
            and not isinstance(e, eqx.EquinoxRuntimeError)
            and "flowrep" not in origin
            and "harness_models" not in origin
            and not any(
                "flowrep/" in f.filename and "_validate" in f.filename for f in tb[-3:]
            )
        ):
            deep = next(
                (
                    s
                    for s in (
                        "/jax/",
                        "/jaxlib/",
                        "/equinox/",
                        "/numpy/",
                        "/ott/",
                        "/diffrax/",
                        "/optax/",
                        "/lineax/",
                    )
                    if s in origin
                ),
                None,
            )
            if deep and not any(named(n, text) for n in arg):
                return "unnamed", f"{desc} (raised in {deep.strip('/')})"
        if not any(named(n, text) for n in arg):
            return "unnamed", desc
        # (under a user's `jax.jit`, XLA puts the named line after its own
        # callback traceback; that wrapping is jax's, so it is not counted)
        if (
            not wrapped
            and not isinstance(e, eqx.EquinoxRuntimeError)
            and len(text) > 1500
            and not any(n.strip("`").lower() in text[:600].lower() for n in arg)
        ):
            return "unnamed", f"{desc} (the named part is buried in {len(text)} chars)"
        return None, desc
    finally:
        signal.alarm(0)
    if kind == "err":
        return "silent", f"returned a value instead of an error: {str(out)[:120]!r}"
    problem = arg(out)
    if problem is None:
        return None, "ok"
    return ("wrong" if problem.startswith("wrong") else "silent"), problem


def named(name, text):
    """Whether `text` names `name`: a whole word, case-sensitive, for short
    names (`r`, `x`, `k`: any text holds those letters); else a substring."""
    name = name.strip("`")
    if len(name) <= 2:
        return (
            re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", text)
            is not None
        )
    return name.lower() in text.lower()


def worker(mode, start, timeout, keys):
    calls = build(mode == "x64")
    for i, (name, expect, fn) in enumerate(calls):
        if i < start or not any(k in name for k in keys):
            continue
        print(json.dumps({"i": i, "start": name}), flush=True)
        try:
            kind, why = judge(expect, fn, timeout)
        except Exception:  # noqa: BLE001  (the harness itself failed)
            kind, why = "crash", "harness: " + traceback.format_exc().splitlines()[-1]
        print(json.dumps({"i": i, "name": name, "kind": kind, "why": why}), flush=True)
    print(json.dumps({"done": len(calls)}), flush=True)


def run_mode(mode, timeout, keys, verbose):
    results, start = [], 0
    while True:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        p = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                mode,
                "--start",
                str(start),
                "--timeout",
                str(timeout),
                "-k",
                "|".join(keys),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=str(ROOT),
        )
        current, done = None, False
        assert p.stdout is not None
        # A call stuck inside XLA never returns to Python, so SIGALRM cannot
        # stop it: a watchdog kills a worker that is silent for too long.
        lines: queue.Queue = queue.Queue()
        threading.Thread(
            target=lambda: [lines.put(x) for x in p.stdout] + [lines.put(None)],
            daemon=True,
        ).start()
        while True:
            try:
                line = lines.get(timeout=timeout + 30 if current else 600)
            except queue.Empty:
                p.kill()
                break
            if line is None:
                break
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "done" in msg:
                done = True
            elif "start" in msg:
                current = msg
            else:
                current = None
                results.append((mode, msg["name"], msg["kind"], msg["why"]))
                if verbose or msg["kind"]:
                    print(
                        f"[{mode}] {'FAIL ' + msg['kind'] if msg['kind'] else 'ok'}: {msg['name']}: {msg['why']}",
                        flush=True,
                    )
        rc = p.wait()
        if done:
            return results
        if current is None:
            results.append(
                (mode, "<worker>", "crash", f"worker exited rc={rc} outside a call")
            )
            return results
        kind, why = (
            ("hang", f"no answer in {timeout + 30} s (killed)")
            if rc == -signal.SIGKILL
            else ("crash", f"worker died (rc={rc})")
        )
        results.append((mode, current["start"], kind, why))
        print(f"[{mode}] FAIL {kind}: {current['start']}: {why}", flush=True)
        start = current["i"] + 1


def main():
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument(
        "-k", default="", help="only calls whose name contains this (several: A|B)"
    )
    p.add_argument("-v", action="store_true", help="print every call")
    p.add_argument("--timeout", type=int, default=60, help="seconds per call")
    p.add_argument("--mode", choices=("x64", "x32", "both"), default="both")
    p.add_argument("--worker", choices=("x64", "x32"), help=argparse.SUPPRESS)
    p.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    a = p.parse_args()
    keys = a.k.split("|")
    if a.worker:
        worker(a.worker, a.start, a.timeout, keys)
        return 0
    t0 = time.time()
    modes = ("x64", "x32") if a.mode == "both" else (a.mode,)
    results = [r for m in modes for r in run_mode(m, a.timeout, keys, a.v)]
    fails = [r for r in results if r[2]]
    print()
    print(f"{'mode':5} {'kind':8} call: why")
    for mode, name, kind, why in fails:
        print(f"{mode:5} {kind:8} {name}: {why}")
    print()
    print(
        f"{len(results)} calls ({', '.join(f'{m}: {sum(r[0] == m for r in results)}' for m in modes)}), {len(fails)} failures ({time.time() - t0:.0f} s)"
    )
    for k in KINDS:
        c = sum(f[2] == k for f in fails)
        if c:
            print(f"  {k}: {c}")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
