# pyright: reportArgumentType=false, reportCallIssue=false, reportAttributeAccessIssue=false, reportOptionalMemberAccess=false, reportIndexIssue=false, reportOperatorIssue=false, reportAbstractUsage=false
"""An independent bad-input harness for the DAE and capture names and the CLI (issue 14).

Written apart from `tests/harness_bad_inputs.py` and the bad-input tables, as
the issue's checker would: every public DAE/capture name and the `flowrep`
command, against every bad-input class of issue 14. Not collected by pytest
(no `test_` prefix). Run it as

    nice -n 5 python tests/harness_dae_cli.py            # both precisions + CLI
    nice -n 5 python tests/harness_dae_cli.py --mode x64 -k mean_shift -v

The driver runs three worker processes: `x64` (`jax_enable_x64` on; float64
references, float32 inputs cast explicitly), `x32` (x64 off, the default a
user has) and `cli` (the `flowrep` command in subprocesses). Every call says
what a correct library does with it:

- `err(*names)`: raise; the message must name the argument (one of `names`,
  e.g. "`t`", appears in it) and the error must be a user-facing type
  (`TypeError`, `ValueError`, `MemoryError`, ..., or under `jax.jit` an
  `EquinoxRuntimeError` with that text). An internal error type
  (`AssertionError`, `TracerBoolConversionError`, `IndexError`, ...) is a
  `crash`; a message without the name is `unnamed`; a value returned
  instead is `silent`.
- `ok(check)`: return a value `check` accepts: every floating leaf finite and
  equal to an independent reference (closed form, numpy/scipy in float64
  on the same inputs); else `silent` (NaN/inf or wrong value) or `crash`.
- `either(check, *names)`: a legal-but-unsupported input (float16, ...):
  a correct finite answer or a named refusal both pass.

Each call has a per-call alarm (`--timeout`, default 60 s): `hang`. A worker
that dies (segfault, abort) is reported as `crash` for the call it was on.
"""

import argparse
import contextlib
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time
import traceback


ROOT = pathlib.Path(__file__).resolve().parents[1]
KINDS = ("silent", "crash", "hang", "unnamed")


def _parse():
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--mode", choices=("all", "x64", "x32", "cli"), default="all")
    p.add_argument("-k", default="", help="only calls whose name contains this (A|B)")
    p.add_argument("-v", action="store_true", help="print every call")
    p.add_argument("--timeout", type=int, default=60, help="seconds per call")
    return p.parse_args()


ARGS = _parse() if __name__ == "__main__" else None


# ====================================================================== driver


def drive(a) -> int:
    """Run the three workers, merge their tallies, print one table."""
    total, fails = 0, []
    for mode in ("x64", "x32", "cli"):
        cmd = [sys.executable, __file__, "--mode", mode, "--timeout", str(a.timeout)]
        if a.k:
            cmd += ["-k", a.k]
        if a.v:
            cmd += ["-v"]
        t0 = time.time()
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        out = r.stdout
        if a.v:
            print(out, end="")
        tally = [ln for ln in out.splitlines() if ln.startswith("TALLY ")]
        if not tally:
            last = (r.stdout + r.stderr).strip().splitlines()[-3:]
            fails.append(
                ("crash", f"{mode} worker", f"died (rc {r.returncode}): {last}")
            )
            continue
        n = int(tally[-1].split()[1])
        total += n
        for ln in out.splitlines():
            if ln.startswith("FAIL\t"):
                _, kind, name, why = ln.split("\t", 3)
                fails.append((kind, f"[{mode}] {name}", why))
        print(f"{mode}: {n} calls ({time.time() - t0:.0f} s)", flush=True)
    print()
    print(f"{total} calls, {len(fails)} failures")
    for k in KINDS:
        n = sum(f[0] == k for f in fails)
        print(f"  {k:8s} {n}")
    for kind, name, why in fails:
        print(f"  - [{kind}] {name}: {why}")
    return 1 if fails else 0


if __name__ == "__main__" and ARGS is not None and ARGS.mode == "all":
    sys.exit(drive(ARGS))


# ================================================================ worker setup

MODE = ARGS.mode if ARGS is not None else "x64"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402


jax.config.update("jax_enable_x64", MODE != "x32")

import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import jax.random as jr  # noqa: E402
import numpy as np  # noqa: E402
import scipy.integrate  # noqa: E402
import scipy.linalg  # noqa: E402
import scipy.special  # noqa: E402
import scipy.stats  # noqa: E402

import flowrep as fr  # noqa: E402


X64 = MODE == "x64"
F32 = jnp.float32
F64 = jnp.float64 if X64 else jnp.float32  # the widest float this process has
RNG = np.random.default_rng(1414)
K = jr.PRNGKey(3)
CALLS: list = []


def case(name, expect, fn):
    CALLS.append((name, expect, fn))


def ok(check=None):
    return ("ok", check or finite)


def err(*names):
    return ("err", names)


def either(check, *names):
    return ("either", (check, names))


def npf(a) -> np.ndarray:
    return np.asarray(
        jnp.asarray(a).astype(F64) if hasattr(a, "dtype") else a, np.float64
    )


def finite(r):
    leaves = [
        a
        for a in jax.tree.leaves(r)
        if hasattr(a, "dtype") and np.issubdtype(np.asarray(a).dtype, np.inexact)
    ]
    for a in leaves:
        if not np.all(np.isfinite(np.asarray(a, np.float64))):
            return f"non-finite output {np.asarray(a).ravel()[:4]}"
    return None


def close(ref, rtol=1e-5, atol=0.0, get=lambda r: r):
    """Finite and within `atol + rtol * max|ref|` of `ref` (a value or a thunk)."""

    if (
        not X64
    ):  # float32 results: the reference's tolerance cannot be below float32 rounding
        rtol = max(rtol, 2e-6)

    def check(r):
        bad = finite(r)
        if bad:
            return bad
        got = npf(get(r))
        want = np.asarray(ref() if callable(ref) else ref, np.float64)
        if got.shape != want.shape:
            return f"shape {got.shape}, want {want.shape}"
        e = float(np.max(np.abs(got - want))) if got.size else 0.0
        tol = atol + rtol * (float(np.max(np.abs(want))) if want.size else 0.0)
        if not e <= tol:
            return f"off by {e:.3g} (tol {tol:.3g}; got {got.ravel()[:3]}, want {want.ravel()[:3]})"
        return None

    return check


def tol_for(dtype):
    return 1e-9 if dtype == jnp.float64 else 2e-5


def nanify(a, v=np.nan):
    a = np.array(a)
    a.reshape(-1)[0] = v
    return jnp.asarray(a)


# ----------------------------------------------------------------- references


def gauss_dae_ref(m, S, t, x):
    m, S, x = npf(m), npf(S), npf(x)
    A = S @ np.linalg.inv(S + t * np.eye(len(m)))
    return m + (x - m) @ A.T


def mix_dae_ref(w, ms, Ss, t, x):
    w, ms, Ss, x = npf(w), npf(ms), npf(Ss), npf(x)
    w = w / w.sum()
    d = ms.shape[1]
    logp = np.stack(
        [
            np.log(w[k])
            + scipy.stats.multivariate_normal(ms[k], Ss[k] + t * np.eye(d))
            .logpdf(x)
            .reshape(-1)
            for k in range(len(w))
        ],
        -1,
    )
    r = np.exp(logp - scipy.special.logsumexp(logp, axis=1, keepdims=True))
    out = 0
    for k in range(len(w)):
        out = out + r[:, k : k + 1] * gauss_dae_ref(ms[k], Ss[k], t, x)
    return out


def ms_ref(cloud, t, q=None, w=None):
    c = npf(cloud)
    q = c if q is None else npf(q)
    lw = np.zeros(len(c)) if w is None else np.log(npf(w))
    d2 = ((q[:, None, :] - c[None, :, :]) ** 2).sum(-1)
    lg = lw[None, :] - d2 / (2 * t)
    r = np.exp(lg - scipy.special.logsumexp(lg, axis=1, keepdims=True))
    return r @ c


def deep_map_ref(m, S, t, x):
    m, S, x = npf(m), npf(S), npf(x)
    lam, V = np.linalg.eigh(S)
    G = V @ np.diag(np.sqrt((lam - 2 * t) / lam)) @ V.T
    return m + (x - m) @ G.T


def mix_score_ref(w, ms, Ss, t, x):
    """grad log sum_k w_k N(x; m_k, S_k - 2tI), x (n, d)."""
    w, ms, Ss = npf(w), npf(ms), npf(Ss)
    w = w / w.sum()
    d = ms.shape[1]
    covs = [Ss[k] - 2 * t * np.eye(d) for k in range(len(w))]
    logp = np.stack(
        [
            np.log(w[k])
            + scipy.stats.multivariate_normal(ms[k], covs[k]).logpdf(x).reshape(-1)
            for k in range(len(w))
        ],
        -1,
    )
    r = np.exp(logp - scipy.special.logsumexp(logp, axis=1, keepdims=True))
    s = 0
    for k in range(len(w)):
        s = s + r[:, k : k + 1] * (-(x - ms[k]) @ np.linalg.inv(covs[k]).T)
    return s


def deep_flow_ref(w, ms, Ss, x0, t1):
    x0 = npf(x0)
    n, d = x0.shape

    def f(t, y):
        return mix_score_ref(w, ms, Ss, t, y.reshape(n, d)).ravel()

    sol = scipy.integrate.solve_ivp(f, (0, t1), x0.ravel(), rtol=1e-10, atol=1e-12)
    return sol.y[:, -1].reshape(n, d)


def bms_ref(x0, t1, h):
    x0 = npf(x0)
    n, d = x0.shape

    def f(t, y):
        X = y.reshape(n, d)
        return ((ms_ref(X, h) - X) / h).ravel()

    sol = scipy.integrate.solve_ivp(f, (0, t1), x0.ravel(), rtol=1e-10, atol=1e-12)
    return sol.y[:, -1].reshape(n, d)


def gauss_entropy(S):
    S = npf(S)
    return 0.5 * np.linalg.slogdet(2 * np.pi * np.e * S)[1]


def mix_logpdf_ref(w, ms, Ss, x):
    w, ms, Ss = npf(w), npf(ms), npf(Ss)
    w = w / w.sum()
    lp = [
        np.log(w[k]) + scipy.stats.multivariate_normal(ms[k], Ss[k]).logpdf(npf(x))
        for k in range(len(w))
    ]
    return scipy.special.logsumexp(np.stack(lp, -1), axis=-1)


# -------------------------------------------------------------------- inputs

D = 2
M0 = np.array([0.5, -1.0])
S0 = np.array([[2.0, 0.3], [0.3, 1.0]])
LAW = fr.GaussianLaw(jnp.asarray(M0), jnp.asarray(S0))
W0 = np.array([0.4, 0.6])
MS0 = np.array([[-1.5, 0.0], [1.5, 0.5]])
SS0 = np.stack([np.eye(2) * 0.8, np.array([[1.0, -0.2], [-0.2, 0.6]])])
MIX = fr.GaussianMixture(jnp.asarray(W0), jnp.asarray(MS0), jnp.asarray(SS0))
XN = RNG.normal(size=(24, D))
X = jnp.asarray(XN)  # the widest float
X32 = X.astype(F32)
T = 0.3
# the collapse times in the working precision (float32 rounds them up a little)
TSTAR = float(LAW.collapse_time)
TSTAR_MIX = float(
    MIX.covs.shape[0] and min(float(c.collapse_time) for c in MIX.components())
)


def bad_points(
    prefix,
    call,
    good,
    name,
    *,
    ref=None,
    dim=D,
    allow_int=True,
    none_ref=None,
    single_either=False,
    bool_ok=False,
):
    """The point-cloud classes: shape, mismatch, NaN/inf, empty, types, dtypes, huge."""
    n = good.shape[0]
    case(f"{prefix} 1-D points", err(name), lambda: call(good[0]))
    case(f"{prefix} 3-D points", err(name), lambda: call(good[None]))
    case(
        f"{prefix} empty (0, d)", err(name), lambda: call(jnp.zeros((0, good.shape[1])))
    )
    if dim is not None:
        case(f"{prefix} dim mismatch", err(name), lambda: call(jnp.zeros((n, dim + 1))))
    case(f"{prefix} NaN point", err(name), lambda: call(nanify(good)))
    case(f"{prefix} inf point", err(name), lambda: call(nanify(good, np.inf)))
    case(f"{prefix} str", err(name), lambda: call("abc"))
    case(f"{prefix} list of str", err(name), lambda: call([["a", "b"]]))
    if none_ref is None:
        case(f"{prefix} None", err(name), lambda: call(None))
    else:  # None is the documented default
        case(f"{prefix} None (default)", ok(close(none_ref, 1e-6)), lambda: call(None))
    case(f"{prefix} complex", err(name), lambda: call(good.astype(jnp.complex64)))
    case(
        f"{prefix} bool array",
        either(finite, name) if bool_ok else err(name),  # binary images are data
        lambda: call(jnp.ones(good.shape, bool)),
    )
    if ref is not None:
        one = close(lambda: ref(good[:1]), 1e-4)
        case(
            f"{prefix} single sample",
            either(one, name) if single_either else ok(one),
            lambda: call(good[:1]),
        )
        if allow_int:
            gi = jnp.round(good * 2).astype(jnp.int32)
            case(
                f"{prefix} int32 points",
                ok(close(lambda: ref(gi), 1e-4)),
                lambda: call(gi),
            )
        for dt in (jnp.float16, jnp.bfloat16):
            gd = good.astype(dt)
            case(
                f"{prefix} {jnp.dtype(dt).name} points",
                either(
                    close(lambda gd=gd: ref(gd), 3e-2),
                    name,
                    "dtype",
                    "float16",
                    "bfloat16",
                ),
                lambda gd=gd: call(gd),
            )
        g32 = good.astype(F32)
        case(
            f"{prefix} float32 points",
            ok(close(lambda: ref(g32), 1e-4)),
            lambda: call(g32),
        )
        case(
            f"{prefix} list of lists",
            ok(close(lambda: ref(good), 1e-4)),
            lambda: call(npf(good).tolist()),
        )
        case(
            f"{prefix} numpy float64",
            ok(close(lambda: ref(good), 1e-4)),
            lambda: call(npf(good)),
        )
        dup = jnp.concatenate([good[:3], good[:3]])
        case(
            f"{prefix} duplicated points",
            ok(close(lambda: ref(dup), 1e-4)),
            lambda: call(dup),
        )


def bad_time(prefix, call, name="t", *, zero_ok=True, ref0=None):
    """The scalar-time classes."""
    case(f"{prefix} {name}=-1", err(name), lambda: call(-1.0))
    case(f"{prefix} {name}=nan", err(name), lambda: call(float("nan")))
    case(f"{prefix} {name}=inf", err(name), lambda: call(float("inf")))
    case(f"{prefix} {name}='a'", err(name), lambda: call("a"))
    case(f"{prefix} {name}=None", err(name), lambda: call(None))
    case(f"{prefix} {name}=complex", err(name), lambda: call(1j))
    case(f"{prefix} {name}=[0.1,0.2]", err(name), lambda: call(jnp.array([0.1, 0.2])))
    if not zero_ok:
        case(f"{prefix} {name}=0", err(name), lambda: call(0.0))
    elif ref0 is not None:
        case(f"{prefix} {name}=0", ok(close(ref0, 1e-6)), lambda: call(0.0))


# ================================================================ GaussianLaw

case("AbstractLaw() abstract", err("AbstractLaw", "abstract"), lambda: fr.AbstractLaw())
case(
    "CollapseError is ValueError",
    ok(lambda r: None if r else "not a ValueError"),
    lambda: issubclass(fr.CollapseError, ValueError) and "ok",
)
case(
    "GaussianLaw mean 2-D",
    err("mean"),
    lambda: fr.GaussianLaw(jnp.zeros((2, 2)), jnp.eye(2)),
)
case(
    "GaussianLaw cov shape",
    err("cov"),
    lambda: fr.GaussianLaw(jnp.zeros(2), jnp.eye(3)),
)
case(
    "GaussianLaw cov 1-D", err("cov"), lambda: fr.GaussianLaw(jnp.zeros(2), jnp.ones(2))
)
case(
    "GaussianLaw NaN mean",
    err("mean"),
    lambda: fr.GaussianLaw(jnp.array([np.nan, 0.0]), jnp.eye(2)),
)
case(
    "GaussianLaw inf cov",
    err("cov"),
    lambda: fr.GaussianLaw(jnp.zeros(2), nanify(np.eye(2), np.inf)),
)
case(
    "GaussianLaw non-symmetric cov",
    err("cov"),
    lambda: fr.GaussianLaw(jnp.zeros(2), jnp.array([[1.0, 0.5], [0.0, 1.0]])),
)
case(
    "GaussianLaw indefinite cov",
    err("cov"),
    lambda: fr.GaussianLaw(jnp.zeros(2), jnp.array([[1.0, 2.0], [2.0, 1.0]])),
)
case(
    "GaussianLaw singular cov",
    err("cov"),
    lambda: fr.GaussianLaw(jnp.zeros(2), jnp.zeros((2, 2))),
)
case(
    "GaussianLaw negative 1-D var",
    err("cov"),
    lambda: fr.GaussianLaw(jnp.zeros(1), -jnp.eye(1)),
)
case("GaussianLaw str mean", err("mean"), lambda: fr.GaussianLaw("ab", jnp.eye(2)))
case("GaussianLaw None cov", err("cov"), lambda: fr.GaussianLaw(jnp.zeros(2), None))
case(
    "GaussianLaw complex cov",
    err("cov"),
    lambda: fr.GaussianLaw(jnp.zeros(2), jnp.eye(2) * (1 + 1j)),
)
case(
    "GaussianLaw empty mean",
    err("mean", "cov"),
    lambda: fr.GaussianLaw(jnp.zeros(0), jnp.zeros((0, 0))),
)
case(
    "GaussianLaw jit indefinite cov",
    err("cov"),
    lambda: eqx.filter_jit(lambda c: fr.GaussianLaw(jnp.zeros(2), c).mean)(
        jnp.array([[1.0, 2.0], [2.0, 1.0]])
    ),
)
case(
    "GaussianLaw jit valid",
    ok(close(M0, 1e-6)),
    lambda: eqx.filter_jit(lambda m, c: fr.GaussianLaw(m, c).mean)(
        jnp.asarray(M0), jnp.asarray(S0)
    ),
)
case(
    "GaussianLaw int mean/cov",
    ok(close(lambda: gauss_entropy(np.eye(2) * 2), 1e-5)),
    lambda: fr.GaussianLaw(
        jnp.zeros(2, jnp.int32), 2 * jnp.eye(2, dtype=jnp.int32)
    ).entropy(),
)
case(
    "GaussianLaw d=1 entropy",
    ok(close(lambda: gauss_entropy([[3.0]]), 1e-6)),
    lambda: fr.GaussianLaw(jnp.zeros(1), 3.0 * jnp.eye(1)).entropy(),
)
S512 = np.diag(RNG.uniform(0.5, 2.0, 512))
case(
    "GaussianLaw d=512 entropy",
    ok(close(lambda: gauss_entropy(S512), 1e-6)),
    lambda: fr.GaussianLaw(jnp.zeros(512), jnp.asarray(S512)).entropy(),
)
case(
    "GaussianLaw entropy",
    ok(close(lambda: gauss_entropy(S0), 1e-6)),
    lambda: LAW.entropy(),
)
case(
    "GaussianLaw entropy tiny cov 1e-20",
    ok(close(lambda: gauss_entropy(S0 * 1e-20), 1e-6)),
    lambda: fr.GaussianLaw(jnp.zeros(2), jnp.asarray(S0 * 1e-20)).entropy(),
)
case(
    "GaussianLaw entropy huge cov 1e30",
    ok(close(lambda: gauss_entropy(S0 * 1e30), 1e-6)),
    lambda: fr.GaussianLaw(jnp.zeros(2), jnp.asarray(S0 * 1e30)).entropy(),
)
case(
    "GaussianLaw float32 cov entropy",
    ok(close(lambda: gauss_entropy(S0), 1e-5)),
    lambda: fr.GaussianLaw(jnp.asarray(M0, F32), jnp.asarray(S0, F32)).entropy(),
)
if X64:
    case(
        "GaussianLaw mixed f32 mean f64 cov",
        ok(close(lambda: gauss_entropy(S0), 1e-5)),
        lambda: fr.GaussianLaw(jnp.asarray(M0, F32), jnp.asarray(S0, F64)).entropy(),
    )
case(
    "GaussianLaw bfloat16 cov",
    either(close(lambda: gauss_entropy(S0), 2e-2), "cov", "dtype"),
    lambda: fr.GaussianLaw(
        jnp.asarray(M0, jnp.bfloat16), jnp.asarray(S0, jnp.bfloat16)
    ).entropy(),
)

XQ = X[0]
case(
    "GaussianLaw log_prob",
    ok(close(lambda: scipy.stats.multivariate_normal(M0, S0).logpdf(npf(XQ)), 1e-6)),
    lambda: LAW.log_prob(XQ),
)
case(
    "GaussianLaw prob",
    ok(close(lambda: scipy.stats.multivariate_normal(M0, S0).pdf(npf(XQ)), 1e-6)),
    lambda: LAW.prob(XQ),
)
case(
    "GaussianLaw score",
    ok(close(lambda: -np.linalg.solve(S0, npf(XQ) - M0), 1e-6)),
    lambda: LAW.score(XQ),
)
case(
    "GaussianLaw log_prob batch (n,d)",
    err("x", "batch", "vmap"),
    lambda: LAW.log_prob(X),
)
case(
    "GaussianLaw log_prob wrong d",
    err("x", "dimension", "shape"),
    lambda: LAW.log_prob(jnp.zeros(3)),
)
case(
    "GaussianLaw log_prob NaN", err("x"), lambda: LAW.log_prob(jnp.array([np.nan, 0.0]))
)
case("GaussianLaw log_prob str", err("x"), lambda: LAW.log_prob("ab"))
case(
    "GaussianLaw score jit",
    ok(close(lambda: -np.linalg.solve(S0, npf(XQ) - M0), 1e-6)),
    lambda: jax.jit(lambda x: LAW.score(x))(XQ),
)  # jax.jit(LAW.score) itself: equinox's bound method is unhashable
case(
    "GaussianLaw log_prob vmap",
    ok(close(lambda: scipy.stats.multivariate_normal(M0, S0).logpdf(npf(X)), 1e-6)),
    lambda: jax.vmap(LAW.log_prob)(X),
)
case(
    "GaussianLaw log_prob far point 1e30",
    either(lambda r: None if finite(r) is None or True else "", "x"),
    lambda: LAW.log_prob(jnp.array([1e30, 0.0])),
)
case(
    "GaussianLaw sample shape/moments",
    ok(
        lambda r: (
            None
            if r.shape == (20000, 2)
            and np.allclose(np.cov(npf(r).T), S0, atol=0.08)
            and np.allclose(npf(r).mean(0), M0, atol=0.05)
            else f"shape {r.shape} / moments off"
        )
    ),
    lambda: LAW.sample(20000, key=K),
)
case(
    "GaussianLaw sample 1",
    ok(lambda r: None if r.shape == (1, 2) else f"shape {r.shape}"),
    lambda: LAW.sample(1, key=K),
)
case(
    "GaussianLaw sample 0",
    either(lambda r: None if r.shape == (0, 2) else f"shape {r.shape}", "num_samples"),
    lambda: LAW.sample(0, key=K),
)
case("GaussianLaw sample -1", err("num_samples"), lambda: LAW.sample(-1, key=K))
case("GaussianLaw sample 2.5", err("num_samples"), lambda: LAW.sample(2.5, key=K))
case("GaussianLaw sample True", err("num_samples"), lambda: LAW.sample(True, key=K))
case("GaussianLaw sample '3'", err("num_samples"), lambda: LAW.sample("3", key=K))
case("GaussianLaw sample 10**12", err("num_samples"), lambda: LAW.sample(10**12, key=K))
case("GaussianLaw sample key=None", err("key"), lambda: LAW.sample(3, key=None))
case("GaussianLaw sample key=5", err("key"), lambda: LAW.sample(3, key=5))
case(
    "GaussianLaw smooth",
    ok(close(lambda: S0 + 0.5 * np.eye(2), 1e-9, get=lambda r: r.cov)),
    lambda: LAW.smooth(0.5),
)
bad_time("GaussianLaw smooth", lambda t: LAW.smooth(t).cov, ref0=lambda: S0)
case(
    "GaussianLaw backward_heat",
    ok(close(lambda: S0 - 2 * 0.2 * np.eye(2), 1e-9, get=lambda r: r.cov)),
    lambda: LAW.backward_heat(0.2),
)
bad_time(
    "GaussianLaw backward_heat", lambda t: LAW.backward_heat(t).cov, ref0=lambda: S0
)
case(
    "GaussianLaw backward_heat at t*",
    err("t", "collapse"),
    lambda: LAW.backward_heat(TSTAR),
)


def _collapse_kind(fn):
    try:
        fn()
    except fr.CollapseError:
        return "CollapseError"
    except Exception as e:  # noqa: BLE001
        return f"{type(e).__name__}, not CollapseError"
    return "no error"


case(
    "GaussianLaw backward_heat past t* is CollapseError",
    ok(lambda r: None if r == "CollapseError" else r),
    lambda: _collapse_kind(lambda: LAW.backward_heat(TSTAR * 1.5)),
)
case(
    "GaussianLaw backward_heat jit valid",
    ok(close(lambda: S0 - 0.4 * np.eye(2), 1e-6)),
    lambda: jax.jit(lambda t: LAW.backward_heat(t).cov)(0.2),
)
case(
    "GaussianLaw backward_heat jit past t*",
    err("t", "collapse"),
    lambda: jax.jit(lambda t: LAW.backward_heat(t).cov)(TSTAR * 2),
)
case(
    "GaussianLaw backward_heat jit t<0",
    err("t"),
    lambda: jax.jit(lambda t: LAW.backward_heat(t).cov)(-1.0),
)
case(
    "GaussianLaw backward_heat check='no'",
    err("check"),
    lambda: LAW.backward_heat(0.1, check="no"),
)
case(
    "GaussianLaw to_mixture logpdf",
    ok(close(lambda: scipy.stats.multivariate_normal(M0, S0).logpdf(npf(XQ)), 1e-6)),
    lambda: LAW.to_mixture().log_prob(XQ),
)

# ============================================================ GaussianMixture

case(
    "GaussianMixture log_prob",
    ok(close(lambda: mix_logpdf_ref(W0, MS0, SS0, npf(XQ)), 1e-6)),
    lambda: MIX.log_prob(XQ),
)
case(
    "GaussianMixture unnormalised weights",
    ok(close(lambda: mix_logpdf_ref(W0, MS0, SS0, npf(XQ)), 1e-6)),
    lambda: fr.GaussianMixture(
        jnp.asarray(W0 * 7.0), jnp.asarray(MS0), jnp.asarray(SS0)
    ).log_prob(XQ),
)
case(
    "GaussianMixture weights tiny scale 1e-30",
    ok(close(lambda: mix_logpdf_ref(W0, MS0, SS0, npf(XQ)), 1e-6)),
    lambda: fr.GaussianMixture(
        jnp.asarray(W0 * 1e-30), jnp.asarray(MS0), jnp.asarray(SS0)
    ).log_prob(XQ),
)
case(
    "GaussianMixture negative weight",
    err("weights"),
    lambda: fr.GaussianMixture(
        jnp.array([-0.4, 1.4]), jnp.asarray(MS0), jnp.asarray(SS0)
    ),
)
case(
    "GaussianMixture zero weight",
    err("weights"),
    lambda: fr.GaussianMixture(
        jnp.array([0.0, 1.0]), jnp.asarray(MS0), jnp.asarray(SS0)
    ),
)
case(
    "GaussianMixture NaN weight",
    err("weights"),
    lambda: fr.GaussianMixture(
        jnp.array([np.nan, 1.0]), jnp.asarray(MS0), jnp.asarray(SS0)
    ),
)
case(
    "GaussianMixture inf weight",
    err("weights"),
    lambda: fr.GaussianMixture(
        jnp.array([np.inf, 1.0]), jnp.asarray(MS0), jnp.asarray(SS0)
    ),
)
case(
    "GaussianMixture K mismatch weights",
    err("weights"),
    lambda: fr.GaussianMixture(jnp.ones(3), jnp.asarray(MS0), jnp.asarray(SS0)),
)
case(
    "GaussianMixture K mismatch covs",
    err("covs"),
    lambda: fr.GaussianMixture(jnp.asarray(W0), jnp.asarray(MS0), jnp.asarray(SS0[:1])),
)
case(
    "GaussianMixture d mismatch covs",
    err("covs"),
    lambda: fr.GaussianMixture(jnp.asarray(W0), jnp.asarray(MS0), jnp.ones((2, 3, 3))),
)
case(
    "GaussianMixture means 1-D",
    err("means"),
    lambda: fr.GaussianMixture(jnp.asarray(W0), jnp.zeros(2), jnp.asarray(SS0)),
)
case(
    "GaussianMixture NaN mean",
    err("means"),
    lambda: fr.GaussianMixture(jnp.asarray(W0), nanify(MS0), jnp.asarray(SS0)),
)
case(
    "GaussianMixture indefinite cov",
    err("covs"),
    lambda: fr.GaussianMixture(
        jnp.asarray(W0), jnp.asarray(MS0), jnp.stack([jnp.eye(2), -jnp.eye(2)])
    ),
)
case(
    "GaussianMixture non-symmetric cov",
    err("covs"),
    lambda: fr.GaussianMixture(
        jnp.asarray(W0),
        jnp.asarray(MS0),
        jnp.stack([jnp.eye(2), jnp.array([[1.0, 0.5], [0.0, 1.0]])]),
    ),
)
case(
    "GaussianMixture empty K=0",
    err("weights", "means", "component"),
    lambda: fr.GaussianMixture(jnp.zeros(0), jnp.zeros((0, 2)), jnp.zeros((0, 2, 2))),
)
case(
    "GaussianMixture str weights",
    err("weights"),
    lambda: fr.GaussianMixture("ab", jnp.asarray(MS0), jnp.asarray(SS0)),
)
case(
    "GaussianMixture None covs",
    err("covs"),
    lambda: fr.GaussianMixture(jnp.asarray(W0), jnp.asarray(MS0), None),
)
case(
    "GaussianMixture list weights",
    ok(close(lambda: mix_logpdf_ref(W0, MS0, SS0, npf(XQ)), 1e-6)),
    lambda: fr.GaussianMixture([0.4, 0.6], jnp.asarray(MS0), jnp.asarray(SS0)).log_prob(
        XQ
    ),
)
case(
    "GaussianMixture jit negative weight",
    err("weights"),
    lambda: eqx.filter_jit(
        lambda w: fr.GaussianMixture(w, jnp.asarray(MS0), jnp.asarray(SS0)).weights
    )(jnp.array([-0.4, 1.4])),
)
case(
    "GaussianMixture jit indefinite cov",
    err("covs"),
    lambda: eqx.filter_jit(
        lambda c: fr.GaussianMixture(jnp.asarray(W0), jnp.asarray(MS0), c).weights
    )(jnp.stack([jnp.eye(2), -jnp.eye(2)])),
)
case(
    "GaussianMixture one component entropy",
    ok(close(lambda: gauss_entropy(S0), 1e-6)),
    lambda: fr.GaussianMixture(
        jnp.ones(1), jnp.asarray(M0)[None], jnp.asarray(S0)[None]
    ).entropy(),
)


def mix_entropy_mc():
    xs = np.concatenate(
        [
            RNG.multivariate_normal(MS0[k], SS0[k], size=int(200000 * W0[k]))
            for k in range(2)
        ]
    )
    return -np.mean(mix_logpdf_ref(W0, MS0, SS0, xs))


H_MIX = mix_entropy_mc()
case(
    "GaussianMixture entropy quadrature", ok(close(H_MIX, 5e-3)), lambda: MIX.entropy()
)
case(
    "GaussianMixture entropy monte_carlo",
    ok(close(H_MIX, 2e-2)),
    lambda: MIX.entropy(method="monte_carlo", num_samples=20000, key=K),
)
case(
    "GaussianMixture entropy bad method",
    err("method"),
    lambda: MIX.entropy(method="bogus"),
)
case(
    "GaussianMixture entropy MC no key",
    err("key"),
    lambda: MIX.entropy(method="monte_carlo"),
)
case(
    "GaussianMixture entropy num_nodes=0",
    err("num_nodes"),
    lambda: MIX.entropy(num_nodes=0),
)
case(
    "GaussianMixture entropy num_nodes=2.5",
    err("num_nodes"),
    lambda: MIX.entropy(num_nodes=2.5),
)
case(
    "GaussianMixture entropy num_samples=-3",
    err("num_samples"),
    lambda: MIX.entropy(method="monte_carlo", num_samples=-3, key=K),
)
case(
    "GaussianMixture entropy_monte_carlo 1 sample",
    either(finite, "num_samples"),
    lambda: MIX.entropy_monte_carlo(1, key=K),
)
case(
    "GaussianMixture responsibilities sum 1",
    ok(close(1.0, 1e-6, get=lambda r: jnp.sum(r))),
    lambda: MIX.responsibilities(XQ),
)
case(
    "GaussianMixture responsibilities far point",
    ok(close(1.0, 1e-6, get=lambda r: jnp.sum(r))),
    lambda: MIX.responsibilities(jnp.array([1e4, 1e4])),
)
case(
    "GaussianMixture score vs autodiff",
    ok(close(lambda: mix_score_ref(W0, MS0, SS0, 0.0, npf(XQ)[None])[0], 1e-6)),
    lambda: MIX.score(XQ),
)
case("GaussianMixture score batch", err("x", "vmap", "batch"), lambda: MIX.score(X))
case(
    "GaussianMixture log_prob far 1e30",
    either(lambda r: None, "x"),
    lambda: MIX.log_prob(jnp.array([1e30, 0.0])),
)
case(
    "GaussianMixture smooth",
    ok(close(lambda: SS0 + 0.1 * np.eye(2), 1e-9, get=lambda r: r.covs)),
    lambda: MIX.smooth(0.1),
)
bad_time("GaussianMixture smooth", lambda t: MIX.smooth(t).covs, ref0=lambda: SS0)
bad_time(
    "GaussianMixture backward_heat",
    lambda t: MIX.backward_heat(t).covs,
    ref0=lambda: SS0,
)
case(
    "GaussianMixture backward_heat past t*",
    err("t", "collapse"),
    lambda: MIX.backward_heat(TSTAR_MIX * 1.01),
)
case(
    "GaussianMixture backward_heat jit past t*",
    err("t", "collapse"),
    lambda: jax.jit(lambda t: MIX.backward_heat(t).covs)(TSTAR_MIX * 1.5),
)
case(
    "GaussianMixture expect 1",
    ok(close(1.0, 1e-8)),
    lambda: MIX.expect(lambda x: jnp.ones(())),
)
case(
    "GaussianMixture expect mean",
    ok(close(lambda: W0 @ MS0, 1e-6)),
    lambda: MIX.expect(lambda x: x),
)
case("GaussianMixture expect not callable", err("fn"), lambda: MIX.expect(3.0))
case("GaussianMixture sample 2.5", err("num_samples"), lambda: MIX.sample(2.5, key=K))
case("GaussianMixture sample -1", err("num_samples"), lambda: MIX.sample(-1, key=K))
case(
    "GaussianMixture sample 10**12",
    err("num_samples"),
    lambda: MIX.sample(10**12, key=K),
)
case(
    "GaussianMixture sample moments",
    ok(
        lambda r: (
            None
            if np.allclose(npf(r).mean(0), W0 @ MS0, atol=0.05)
            else f"mean {npf(r).mean(0)}"
        )
    ),
    lambda: MIX.sample(20000, key=K),
)
case(
    "GaussianMixture components",
    ok(
        lambda r: (
            None if len(r) == 2 and np.allclose(npf(r[1].cov), SS0[1]) else "wrong"
        )
    ),
    lambda: MIX.components(),
)


# ================================================================= shallow_dae


def SD(x):
    return fr.shallow_dae(LAW, T, x)


bad_points("shallow_dae[gauss]", SD, X, "x", ref=lambda x: gauss_dae_ref(M0, S0, T, x))
bad_points(
    "shallow_dae[mix]",
    lambda x: fr.shallow_dae(MIX, T, x),
    X,
    "x",
    ref=lambda x: mix_dae_ref(W0, MS0, SS0, T, x),
)
bad_time("shallow_dae", lambda t: fr.shallow_dae(LAW, t, X), ref0=lambda: npf(X))
case("shallow_dae law=None", err("law"), lambda: fr.shallow_dae(None, T, X))
case("shallow_dae law=array", err("law"), lambda: fr.shallow_dae(jnp.eye(2), T, X))
case("shallow_dae law='gauss'", err("law"), lambda: fr.shallow_dae("gauss", T, X))
case(
    "shallow_dae jit valid",
    ok(close(lambda: gauss_dae_ref(M0, S0, T, X), 1e-6)),
    lambda: jax.jit(lambda t, x: fr.shallow_dae(LAW, t, x))(T, X),
)
case(
    "shallow_dae jit mix valid",
    ok(close(lambda: mix_dae_ref(W0, MS0, SS0, T, X), 1e-6)),
    lambda: jax.jit(lambda t, x: fr.shallow_dae(MIX, t, x))(T, X),
)
case(
    "shallow_dae jit t<0",
    err("t"),
    lambda: jax.jit(lambda t, x: fr.shallow_dae(LAW, t, x))(-1.0, X),
)
case(
    "shallow_dae jit t=nan",
    err("t"),
    lambda: jax.jit(lambda t, x: fr.shallow_dae(LAW, t, x))(jnp.nan, X),
)
case(
    "shallow_dae jit NaN x",
    err("x"),
    lambda: jax.jit(lambda x: fr.shallow_dae(MIX, T, x))(nanify(X)),
)
case(
    "shallow_dae huge t=1e30",
    ok(close(lambda: gauss_dae_ref(M0, S0, 1e30, X), 1e-6)),
    lambda: fr.shallow_dae(LAW, 1e30, X),
)
case(
    "shallow_dae tiny t=1e-20 (identity)",
    ok(close(lambda: npf(X), 1e-6)),
    lambda: fr.shallow_dae(MIX, 1e-20, X),
)
case(
    "shallow_dae[mix] huge x 1e30",
    either(lambda r: finite(r), "x"),
    lambda: fr.shallow_dae(MIX, T, X * 1e30),
)
case(
    "shallow_dae[gauss] huge x 1e30",
    ok(close(lambda: gauss_dae_ref(M0, S0, T, npf(X) * 1e30), 1e-5)),
    lambda: fr.shallow_dae(LAW, T, X * 1e30),
)
case(
    "shallow_dae d=1",
    ok(close(lambda: gauss_dae_ref([0.0], [[2.0]], T, npf(X)[:, :1]), 1e-6)),
    lambda: fr.shallow_dae(fr.GaussianLaw(jnp.zeros(1), 2 * jnp.eye(1)), T, X[:, :1]),
)
X512 = jnp.asarray(RNG.normal(size=(6, 512)))
case(
    "shallow_dae d=512",
    ok(close(lambda: gauss_dae_ref(np.zeros(512), S512, T, X512), 1e-6)),
    lambda: fr.shallow_dae(fr.GaussianLaw(jnp.zeros(512), jnp.asarray(S512)), T, X512),
)
# equivariance in float32: law and points shifted / scaled together
for c in (1e4,):
    case(
        f"shallow_dae[mix] f32 shift +{c:g}",
        ok(
            close(
                lambda c=c: mix_dae_ref(W0, MS0 + c, SS0, T, npf((X + c).astype(F32))),
                0,
                atol=3e-3,
            )
        ),
        lambda c=c: fr.shallow_dae(
            fr.GaussianMixture(
                jnp.asarray(W0, F32), jnp.asarray(MS0 + c, F32), jnp.asarray(SS0, F32)
            ),
            jnp.float32(T),
            (X + c).astype(F32),
        ),
    )
for s in (1e-3, 1e4):
    case(
        f"shallow_dae[mix] f32 scale x{s:g}",
        ok(
            close(
                lambda s=s: mix_dae_ref(
                    W0, MS0 * s, SS0 * s * s, T * s * s, npf((X * s).astype(F32))
                ),
                1e-4,
            )
        ),
        lambda s=s: fr.shallow_dae(
            fr.GaussianMixture(
                jnp.asarray(W0, F32),
                jnp.asarray(MS0 * s, F32),
                jnp.asarray(SS0 * s * s, F32),
            ),
            jnp.float32(T * s * s),
            (X * s).astype(F32),
        ),
    )
if X64:
    case(
        "shallow_dae mixed f32 x, f64 law",
        ok(close(lambda: gauss_dae_ref(M0, S0, T, X32), 1e-5)),
        lambda: fr.shallow_dae(LAW, T, X32),
    )
    case(
        "shallow_dae f64 x, f32 law",
        ok(close(lambda: gauss_dae_ref(M0, S0, T, X), 1e-5)),
        lambda: fr.shallow_dae(
            fr.GaussianLaw(jnp.asarray(M0, F32), jnp.asarray(S0, F32)), T, X
        ),
    )

# ===================================================== shallow_dae_pushforward


def pf_ref(S, t):
    A = S @ np.linalg.inv(S + t * np.eye(len(S)))
    return A @ S @ A.T


case(
    "shallow_dae_pushforward",
    ok(close(lambda: pf_ref(S0, T), 1e-9, get=lambda r: r.cov)),
    lambda: fr.shallow_dae_pushforward(LAW, T),
)
case(
    "shallow_dae_pushforward mixture",
    err("law", "GaussianLaw"),
    lambda: fr.shallow_dae_pushforward(MIX, T),
)
case(
    "shallow_dae_pushforward None",
    err("law", "GaussianLaw"),
    lambda: fr.shallow_dae_pushforward(None, T),
)
bad_time(
    "shallow_dae_pushforward",
    lambda t: fr.shallow_dae_pushforward(LAW, t).cov,
    ref0=lambda: S0,
)
case(
    "shallow_dae_pushforward jit",
    ok(close(lambda: pf_ref(S0, T), 1e-6, get=lambda r: r)),
    lambda: jax.jit(lambda t: fr.shallow_dae_pushforward(LAW, t).cov)(T),
)
case(
    "shallow_dae_pushforward jit t<0",
    err("t"),
    lambda: jax.jit(lambda t: fr.shallow_dae_pushforward(LAW, t).cov)(-1.0),
)
case(
    "shallow_dae_pushforward t=1e30",
    # float32: the eigenvalues lam^3/(lam+t)^2 ~ 1e-60 underflow; a named refusal is right
    (ok if X64 else lambda c: either(c, "cov", "t"))(
        close(lambda: pf_ref(S0, 1e30), 1e-6, get=lambda r: r.cov)
    ),
    lambda: fr.shallow_dae_pushforward(LAW, 1e30),
)
case(
    "shallow_dae_pushforward cov 1e-20",
    ok(close(lambda: pf_ref(S0 * 1e-20, 1e-20), 1e-5, get=lambda r: r.cov)),
    lambda: fr.shallow_dae_pushforward(
        fr.GaussianLaw(jnp.zeros(2), jnp.asarray(S0 * 1e-20)), 1e-20
    ),
)

# ============================================================ deep_dae_map


def DM(x):
    return fr.deep_dae_map(LAW, T, x)


bad_points("deep_dae_map", DM, X, "x", ref=lambda x: deep_map_ref(M0, S0, T, x))
bad_time("deep_dae_map", lambda t: fr.deep_dae_map(LAW, t, X), ref0=lambda: npf(X))
case("deep_dae_map t=t*", err("t", "collapse"), lambda: fr.deep_dae_map(LAW, TSTAR, X))
case(
    "deep_dae_map CollapseError type",
    ok(lambda r: None if r == "CollapseError" else r),
    lambda: _collapse_kind(lambda: fr.deep_dae_map(LAW, TSTAR * 2, X)),
)
case(
    "deep_dae_map mixture",
    err("law", "GaussianLaw"),
    lambda: fr.deep_dae_map(MIX, T, X),
)
case(
    "deep_dae_map jit valid",
    ok(close(lambda: deep_map_ref(M0, S0, T, X), 1e-6)),
    lambda: jax.jit(lambda t, x: fr.deep_dae_map(LAW, t, x))(T, X),
)
case(
    "deep_dae_map jit past t*",
    err("t", "collapse"),
    lambda: jax.jit(lambda t: fr.deep_dae_map(LAW, t, X))(TSTAR * 2),
)
case(
    "deep_dae_map f32 shift +1e4",
    ok(
        close(
            lambda: deep_map_ref(M0 + 1e4, S0, T, npf((X + 1e4).astype(F32))),
            0,
            atol=3e-3,
        )
    ),
    lambda: fr.deep_dae_map(
        fr.GaussianLaw(jnp.asarray(M0 + 1e4, F32), jnp.asarray(S0, F32)),
        jnp.float32(T),
        (X + 1e4).astype(F32),
    ),
)
case(
    "deep_dae_map f32 scale x1e-3",
    ok(
        close(
            lambda: deep_map_ref(
                M0 * 1e-3, S0 * 1e-6, T * 1e-6, npf((X * 1e-3).astype(F32))
            ),
            1e-4,
        )
    ),
    lambda: fr.deep_dae_map(
        fr.GaussianLaw(jnp.asarray(M0 * 1e-3, F32), jnp.asarray(S0 * 1e-6, F32)),
        jnp.float32(T * 1e-6),
        (X * 1e-3).astype(F32),
    ),
)

# ======================================================= DeepDAEField / flow

FIELD = fr.DeepDAEField(MIX)
case("DeepDAEField(None)", err("law"), lambda: fr.DeepDAEField(None))
case("DeepDAEField(array)", err("law"), lambda: fr.DeepDAEField(jnp.eye(2)))
case(
    "DeepDAEField point",
    ok(close(lambda: mix_score_ref(W0, MS0, SS0, 0.1, npf(XQ)[None])[0], 1e-6)),
    lambda: FIELD(0.1, XQ, None),
)
case(
    "DeepDAEField batch",
    ok(close(lambda: mix_score_ref(W0, MS0, SS0, 0.1, npf(X)), 1e-6)),
    lambda: FIELD(0.1, X, None),
)
case(
    "DeepDAEField batch_call",
    ok(close(lambda: mix_score_ref(W0, MS0, SS0, 0.1, npf(X)), 1e-6)),
    lambda: FIELD.batch_call(0.1, X),
)
case("DeepDAEField wrong d", err("x", "shape"), lambda: FIELD(0.1, jnp.zeros(3), None))
case(
    "DeepDAEField t past t*",
    err("t", "collapse"),
    lambda: FIELD(TSTAR_MIX * 2, XQ, None),
)
case("DeepDAEField t=nan", err("t"), lambda: FIELD(jnp.nan, XQ, None))
case(
    "DeepDAEField jit t past t*",
    err("t", "collapse"),
    lambda: jax.jit(lambda t: FIELD(t, XQ, None))(TSTAR_MIX * 2),
)
case(
    "DeepDAEField collapse_time",
    ok(close(TSTAR_MIX, 1e-9)),
    lambda: FIELD.collapse_time,
)
case(
    "DeepDAEField log_prob",
    ok(close(lambda: mix_logpdf_ref(W0, MS0, SS0 - 0.2 * np.eye(2), npf(XQ)), 1e-6)),
    lambda: FIELD.log_prob(0.1, XQ),
)


def DF(x0):
    return fr.deep_dae_flow(LAW, x0, T).tracks[-1]


bad_points("deep_dae_flow", DF, X[:6], "x0", ref=lambda x: deep_map_ref(M0, S0, T, x))
bad_time(
    "deep_dae_flow",
    lambda t: fr.deep_dae_flow(LAW, X[:4], t).tracks[-1],
    "t1",
    zero_ok=False,
)
case(
    "deep_dae_flow t1=t*",
    err("t1", "collapse"),
    lambda: fr.deep_dae_flow(LAW, X[:4], TSTAR),
)
case(
    "deep_dae_flow t1 past t* CollapseError",
    ok(lambda r: None if r == "CollapseError" else r),
    lambda: _collapse_kind(lambda: fr.deep_dae_flow(MIX, X[:4], TSTAR_MIX * 3)),
)
case(
    "deep_dae_flow mixture vs scipy",
    ok(close(lambda: deep_flow_ref(W0, MS0, SS0, X[:5], 0.2), 1e-5)),
    lambda: fr.deep_dae_flow(MIX, X[:5], 0.2).tracks[-1],
)
case("deep_dae_flow law=None", err("law"), lambda: fr.deep_dae_flow(None, X[:4], T))
case(
    "deep_dae_flow ts bad order",
    err("ts"),
    lambda: fr.deep_dae_flow(LAW, X[:4], T, ts=jnp.array([0.2, 0.1])),
)
case(
    "deep_dae_flow ts past t1",
    err("ts"),
    lambda: fr.deep_dae_flow(LAW, X[:4], T, ts=jnp.array([0.0, T * 2])),
)
case(
    "deep_dae_flow ts NaN",
    err("ts"),
    lambda: fr.deep_dae_flow(LAW, X[:4], T, ts=jnp.array([0.0, jnp.nan])),
)
case(
    "deep_dae_flow ts 2-D",
    err("ts"),
    lambda: fr.deep_dae_flow(LAW, X[:4], T, ts=jnp.zeros((2, 2))),
)
case(
    "deep_dae_flow ts empty",
    err("ts"),
    lambda: fr.deep_dae_flow(LAW, X[:4], T, ts=jnp.zeros(0)),
)
case(
    "deep_dae_flow log_density='bogus'",
    err("log_density"),
    lambda: fr.deep_dae_flow(LAW, X[:4], T, log_density="bogus"),
)
case(
    "deep_dae_flow hutchinson no key",
    err("key"),
    lambda: fr.deep_dae_flow(LAW, X[:4], T, log_density="hutchinson"),
)
case(
    "deep_dae_flow rtol=-1",
    err("rtol"),
    lambda: fr.deep_dae_flow(LAW, X[:4], T, rtol=-1.0),
)
case(
    "deep_dae_flow unknown kwarg",
    err("bogus"),
    lambda: fr.deep_dae_flow(LAW, X[:4], T, bogus=1),
)
case(
    "deep_dae_flow exact log density",
    ok(
        close(
            lambda: np.full(
                4,
                0.5
                * (
                    np.linalg.slogdet(S0)[1]
                    - np.linalg.slogdet(S0 - 2 * T * np.eye(2))[1]
                ),
            ),
            1e-5,
            get=lambda r: r.log_density_tracks[-1],
        )
    ),
    lambda: fr.deep_dae_flow(LAW, X[:4], T, log_density="exact"),
)
case(
    "deep_dae_flow jit valid",
    ok(close(lambda: deep_map_ref(M0, S0, T, X[:4]), 1e-5)),
    lambda: eqx.filter_jit(lambda t, x: fr.deep_dae_flow(LAW, x, t).tracks[-1])(
        T, X[:4]
    ),
)
case(
    "deep_dae_flow jit t1 past t*",
    err("t1", "collapse"),
    lambda: eqx.filter_jit(lambda t, x: fr.deep_dae_flow(LAW, x, t).tracks[-1])(
        TSTAR * 2, X[:4]
    ),
)
case(
    "deep_dae_flow jit NaN x0",
    err("x0"),
    lambda: eqx.filter_jit(lambda x: fr.deep_dae_flow(LAW, x, T).tracks[-1])(
        nanify(X[:4])
    ),
)
case(
    "deep_dae_flow x0 far 1e30 (mixture)",
    either(finite, "x0"),
    lambda: fr.deep_dae_flow(MIX, X[:4] * 1e30, 0.1).tracks[-1],
)
case(
    "deep_dae_flow f32 shift +1e4",
    ok(
        close(
            lambda: deep_map_ref(M0 + 1e4, S0, T, npf((X[:4] + 1e4).astype(F32))),
            0,
            atol=5e-3,
        )
    ),
    lambda: fr.deep_dae_flow(
        fr.GaussianLaw(jnp.asarray(M0 + 1e4, F32), jnp.asarray(S0, F32)),
        (X[:4] + 1e4).astype(F32),
        T,
    ).tracks[-1],
)
case(
    "deep_dae_flow f32 scale x1e-3",
    ok(
        close(
            lambda: deep_map_ref(
                M0 * 1e-3, S0 * 1e-6, T * 1e-6, npf((X[:4] * 1e-3).astype(F32))
            ),
            1e-3,
        )
    ),
    lambda: fr.deep_dae_flow(
        fr.GaussianLaw(jnp.asarray(M0 * 1e-3, F32), jnp.asarray(S0 * 1e-6, F32)),
        (X[:4] * 1e-3).astype(F32),
        T * 1e-6,
        atol=1e-9,
    ).tracks[-1],
)
case(
    "deep_dae_flow f32 scale x1e4",
    ok(
        close(
            lambda: deep_map_ref(
                M0 * 1e4, S0 * 1e8, T * 1e8, npf((X[:4] * 1e4).astype(F32))
            ),
            1e-3,
        )
    ),
    lambda: fr.deep_dae_flow(
        fr.GaussianLaw(jnp.asarray(M0 * 1e4, F32), jnp.asarray(S0 * 1e8, F32)),
        (X[:4] * 1e4).astype(F32),
        T * 1e8,
    ).tracks[-1],
)

# ===================================================================== mean_shift

CL = X[:12]


def MS(c):
    return fr.mean_shift(c, T)


bad_points("mean_shift cloud", MS, CL, "cloud", ref=lambda c: ms_ref(c, T), dim=None)
bad_points(
    "mean_shift queries",
    lambda q: fr.mean_shift(CL, T, q),
    X[12:20],
    "queries",
    ref=lambda q: ms_ref(CL, T, q),
    none_ref=lambda: ms_ref(CL, T),
)
bad_time("mean_shift", lambda t: fr.mean_shift(CL, t), zero_ok=False)
case(
    "mean_shift weights",
    ok(close(lambda: ms_ref(CL, T, None, np.arange(1, 13.0)), 1e-6)),
    lambda: fr.mean_shift(CL, T, weights=jnp.arange(1, 13.0)),
)
case(
    "mean_shift weights 1e-30 scale",
    ok(close(lambda: ms_ref(CL, T, None, np.arange(1, 13.0)), 1e-6)),
    lambda: fr.mean_shift(CL, T, weights=jnp.arange(1, 13.0) * 1e-30),
)
case(
    "mean_shift weights negative",
    err("weights"),
    lambda: fr.mean_shift(CL, T, weights=-jnp.ones(12)),
)
case(
    "mean_shift weights zero",
    err("weights"),
    lambda: fr.mean_shift(CL, T, weights=jnp.zeros(12)),
)
case(
    "mean_shift weights NaN",
    err("weights"),
    lambda: fr.mean_shift(CL, T, weights=nanify(jnp.ones(12))),
)
case(
    "mean_shift weights shape",
    err("weights"),
    lambda: fr.mean_shift(CL, T, weights=jnp.ones(5)),
)
case(
    "mean_shift weights str",
    err("weights"),
    lambda: fr.mean_shift(CL, T, weights="abc"),
)
case(
    "mean_shift weights 2-D",
    err("weights"),
    lambda: fr.mean_shift(CL, T, weights=jnp.ones((12, 1))),
)
case(
    "mean_shift chunk_size=0",
    err("chunk_size"),
    lambda: fr.mean_shift(CL, T, chunk_size=0),
)
case(
    "mean_shift chunk_size=2.5",
    err("chunk_size"),
    lambda: fr.mean_shift(CL, T, chunk_size=2.5),
)
case(
    "mean_shift chunk_size='a'",
    err("chunk_size"),
    lambda: fr.mean_shift(CL, T, chunk_size="a"),
)
case(
    "mean_shift chunk_size=True",
    err("chunk_size"),
    lambda: fr.mean_shift(CL, T, chunk_size=True),
)
case(
    "mean_shift chunk_size=1",
    ok(close(lambda: ms_ref(CL, T), 1e-6)),
    lambda: fr.mean_shift(CL, T, chunk_size=1),
)
case(
    "mean_shift chunk_size=7 (odd tiles)",
    ok(close(lambda: ms_ref(CL, T), 1e-6)),
    lambda: fr.mean_shift(CL, T, chunk_size=7),
)
case("mean_shift mesh='x'", err("mesh"), lambda: fr.mean_shift(CL, T, mesh="x"))
case(
    "mean_shift jit valid",
    ok(close(lambda: ms_ref(CL, T), 1e-6)),
    lambda: jax.jit(lambda c, t: fr.mean_shift(c, t))(CL, T),
)
case(
    "mean_shift jit t=0",
    err("t"),
    lambda: jax.jit(lambda c, t: fr.mean_shift(c, t))(CL, 0.0),
)
case(
    "mean_shift jit NaN cloud",
    err("cloud"),
    lambda: jax.jit(lambda c: fr.mean_shift(c, T))(nanify(CL)),
)
case(
    "mean_shift jit negative weights",
    err("weights"),
    lambda: jax.jit(lambda w: fr.mean_shift(CL, T, weights=w))(-jnp.ones(12)),
)
case(
    "mean_shift n=2",
    ok(close(lambda: ms_ref(CL[:2], T), 1e-6)),
    lambda: fr.mean_shift(CL[:2], T),
)
case(
    "mean_shift d=1",
    ok(close(lambda: ms_ref(CL[:, :1], T), 1e-6)),
    lambda: fr.mean_shift(CL[:, :1], T),
)
case(
    "mean_shift d=512",
    ok(close(lambda: ms_ref(X512, 600.0), 1e-6)),
    lambda: fr.mean_shift(X512, 600.0),
)
case(
    "mean_shift tiny t=1e-20 (identity)",
    ok(close(lambda: npf(CL), 1e-6)),
    lambda: fr.mean_shift(CL, 1e-20),
)
case(
    "mean_shift huge t=1e30 (the mean)",
    ok(close(lambda: np.tile(npf(CL).mean(0), (12, 1)), 1e-6)),
    lambda: fr.mean_shift(CL, 1e30),
)
case(
    "mean_shift cloud x1e30",
    either(close(lambda: npf(CL) * 1e30, 1e-5), "cloud", "t"),
    lambda: fr.mean_shift(CL * 1e30, T),
)
for c in (1e2, 1e4):
    case(
        f"mean_shift f32 shift +{c:g}",
        ok(
            close(
                lambda c=c: ms_ref(npf((CL + c).astype(F32)), T),
                0,
                atol=2e-3 if c > 1e3 else 2e-5,
            )
        ),
        lambda c=c: fr.mean_shift((CL + c).astype(F32), jnp.float32(T)),
    )
for s in (1e-3, 1e4):
    case(
        f"mean_shift f32 scale x{s:g}",
        ok(close(lambda s=s: ms_ref(npf((CL * s).astype(F32)), T * s * s), 2e-5)),
        lambda s=s: fr.mean_shift((CL * s).astype(F32), jnp.float32(T * s * s)),
    )
case(
    "mean_shift f32 queries shift +1e4 (queries only)",
    ok(
        close(
            lambda: ms_ref(CL.astype(F32), T, np.array([[1e4, 0.0]], np.float32)), 1e-5
        )
    ),
    lambda: fr.mean_shift(CL.astype(F32), jnp.float32(T), jnp.array([[1e4, 0.0]], F32)),
)
if X64:
    case(
        "mean_shift mixed f32 cloud / f64 queries",
        ok(close(lambda: ms_ref(CL.astype(F32), T, X[12:16]), 1e-5)),
        lambda: fr.mean_shift(CL.astype(F32), T, X[12:16]),
    )

# ====================================================== blurring mean shift

BX = X[:5]
bad_points(
    "blurring_mean_shift_flow",
    lambda x: fr.blurring_mean_shift_flow(x, 0.2, 0.5)[1][-1],
    BX,
    "x0",
    ref=lambda x: bms_ref(x, 0.2, 0.5),
    dim=None,
    allow_int=False,
)
bad_time(
    "blurring_mean_shift_flow",
    lambda t: fr.blurring_mean_shift_flow(BX, t, 0.5)[1][-1],
    "t1",
    ref0=lambda: npf(BX),
)
for bw, lab in (
    (0.0, "0"),
    (-1.0, "-1"),
    (float("nan"), "nan"),
    (float("inf"), "inf"),
    ("a", "'a'"),
    (None, "None"),
    (jnp.ones(2), "array"),
    (1j, "complex"),
):
    case(
        f"blurring_mean_shift_flow bandwidth={lab}",
        err("bandwidth"),
        lambda bw=bw: fr.blurring_mean_shift_flow(BX, 0.2, bw),
    )
case(
    "blurring_mean_shift_flow bandwidth jnp scalar",
    ok(close(lambda: bms_ref(BX, 0.2, 0.5), 1e-5)),
    lambda: fr.blurring_mean_shift_flow(BX, 0.2, jnp.asarray(0.5))[1][-1],
)
case(
    "blurring_mean_shift_flow chunk_size=0",
    err("chunk_size"),
    lambda: fr.blurring_mean_shift_flow(BX, 0.2, 0.5, chunk_size=0),
)
case(
    "blurring_mean_shift_flow chunk_size=2.5",
    err("chunk_size"),
    lambda: fr.blurring_mean_shift_flow(BX, 0.2, 0.5, chunk_size=2.5),
)
case(
    "blurring_mean_shift_flow ts",
    ok(close(lambda: bms_ref(BX, 0.1, 0.5), 1e-5, get=lambda r: r[1][1])),
    lambda: fr.blurring_mean_shift_flow(BX, 0.2, 0.5, ts=jnp.array([0.0, 0.1, 0.2])),
)
case(
    "blurring_mean_shift_flow ts bad",
    err("ts"),
    lambda: fr.blurring_mean_shift_flow(BX, 0.2, 0.5, ts=jnp.array([0.1, 0.0])),
)
case(
    "blurring_mean_shift_flow jit",
    either(close(lambda: bms_ref(BX, 0.2, 0.5), 1e-5), "jit", "concrete"),
    lambda: jax.jit(lambda x: fr.blurring_mean_shift_flow(x, 0.2, 0.5)[1][-1])(BX),
)
case(
    "blurring_mean_shift_flow jit bandwidth traced",
    either(close(lambda: bms_ref(BX, 0.2, 0.5), 1e-5), "bandwidth", "jit"),
    lambda: jax.jit(lambda h: fr.blurring_mean_shift_flow(BX, 0.2, h)[1][-1])(0.5),
)
case(
    "blurring_mean_shift_flow tiny bandwidth 1e-20",
    either(finite, "bandwidth", "x0"),
    lambda: fr.blurring_mean_shift_flow(BX, 0.2, 1e-20)[1][-1],
)
case(
    "blurring_mean_shift_flow f32 shift +1e4",
    ok(close(lambda: bms_ref(npf((BX + 1e4).astype(F32)), 0.2, 0.5), 0, atol=3e-3)),
    lambda: fr.blurring_mean_shift_flow((BX + 1e4).astype(F32), 0.2, 0.5)[1][-1],
)
case(
    "blurring_mean_shift_flow f32 scale x1e-3",
    ok(close(lambda: bms_ref(npf((BX * 1e-3).astype(F32)), 0.2e-6, 0.5e-6), 1e-3)),
    lambda: fr.blurring_mean_shift_flow((BX * 1e-3).astype(F32), 0.2e-6, 0.5e-6)[1][-1],
)
case(
    "blurring_mean_shift_flow n=1 (still)",
    ok(close(lambda: npf(BX[:1]), 1e-6)),
    lambda: fr.blurring_mean_shift_flow(BX[:1], 0.2, 0.5)[1][-1],
)
for bw, lab in ((0.0, "0"), (-1.0, "-1"), (float("nan"), "nan"), ("a", "'a'")):
    case(
        f"BlurringMeanShiftField bandwidth={lab}",
        err("bandwidth"),
        lambda bw=bw: fr.BlurringMeanShiftField(bw, 2),
    )
for pd, lab in ((0, "0"), (2.5, "2.5"), (True, "True"), ("2", "'2'")):
    case(
        f"BlurringMeanShiftField point_dim={lab}",
        err("point_dim"),
        lambda pd=pd: fr.BlurringMeanShiftField(0.5, pd),
    )
BF = fr.BlurringMeanShiftField(0.5, 2)
case(
    "BlurringMeanShiftField call",
    ok(close(lambda: ((ms_ref(BX, 0.5) - npf(BX)) / 0.5).ravel(), 1e-6)),
    lambda: BF(0.0, BX.reshape(-1), None),
)
case(
    "BlurringMeanShiftField length not multiple",
    err("x", "point_dim"),
    lambda: BF(0.0, jnp.zeros(5), None),
)
case(
    "BlurringMeanShiftField NaN",
    err("x", "NaN"),
    lambda: BF(0.0, nanify(BX.reshape(-1)), None),
)

# ==================================================================== stacked


def stacked_laws_ref(S, t, L):
    out, c = [S], S
    for _ in range(L):
        c = pf_ref(c, t / L)
        out.append(c)
    return out


case(
    "stacked_dae_laws",
    ok(close(lambda: stacked_laws_ref(S0, T, 4)[-1], 1e-9, get=lambda r: r[-1].cov)),
    lambda: fr.stacked_dae_laws(LAW, T, 4),
)
case(
    "stacked_dae_laws length",
    ok(lambda r: None if len(r) in (4, 5) else f"len {len(r)}"),
    lambda: fr.stacked_dae_laws(LAW, T, 4),
)
for L, lab in (
    (0, "0"),
    (-2, "-2"),
    (2.5, "2.5"),
    (True, "True"),
    ("3", "'3'"),
    (None, "None"),
    (10**9, "10**9"),
):
    case(
        f"stacked_dae_laws num_layers={lab}",
        err("num_layers"),
        lambda L=L: fr.stacked_dae_laws(LAW, T, L),
    )
bad_time(
    "stacked_dae_laws",
    lambda t: fr.stacked_dae_laws(LAW, t, 2)[-1].cov,
    ref0=lambda: S0,
)
case(
    "stacked_dae_laws mixture",
    err("law", "GaussianLaw"),
    lambda: fr.stacked_dae_laws(MIX, T, 2),
)
case(
    "stacked_dae_laws np.int64 layers",
    ok(close(lambda: stacked_laws_ref(S0, T, 3)[-1], 1e-9, get=lambda r: r[-1].cov)),
    lambda: fr.stacked_dae_laws(LAW, T, np.int64(3)),
)

SX = jnp.asarray(RNG.multivariate_normal(M0, S0, size=200))


def stacked_emp_ref(x, t, L, h=0.0):
    """Empirical stacked DAE: L mean-shift steps of variance tau+h and step tau/(tau+h)."""
    x, tau = npf(x), t / L
    out = [x]
    for _ in range(L):
        g = ms_ref(x, tau + h)
        x = x + tau / (tau + h) * (g - x)
        out.append(x)
    return np.stack(out)


bad_points(
    "stacked_dae x",
    lambda x: fr.stacked_dae(x, T, 2, fit="empirical"),
    SX[:20],
    "x",
    ref=lambda x: stacked_emp_ref(x, T, 2),
    dim=None,
)
case(
    "stacked_dae empirical bandwidth",
    ok(close(lambda: stacked_emp_ref(SX[:30], T, 3, 0.2), 1e-6)),
    lambda: fr.stacked_dae(SX[:30], T, 3, fit="empirical", bandwidth=0.2),
)
case(
    "stacked_dae gauss law K=1 last layer mean",
    ok(close(lambda: npf(SX).mean(0), 0.05, get=lambda r: jnp.mean(r[-1], 0))),
    lambda: fr.stacked_dae(SX, T, 2, law=LAW, num_components=1, key=K),
)
case(
    "stacked_dae layer 0 exact with law",
    ok(close(lambda: gauss_dae_ref(M0, S0, T / 2, SX), 1e-6, get=lambda r: r[1])),
    lambda: fr.stacked_dae(SX, T, 2, law=LAW, num_components=1, key=K),
)
bad_time(
    "stacked_dae",
    lambda t: fr.stacked_dae(SX[:20], t, 2, fit="empirical"),
    ref0=lambda: np.stack([npf(SX[:20])] * 3),
)
for L, lab in ((0, "0"), (2.5, "2.5"), (True, "True"), ("3", "'3'")):
    case(
        f"stacked_dae num_layers={lab}",
        err("num_layers"),
        lambda L=L: fr.stacked_dae(SX[:20], T, L, fit="empirical"),
    )
case(
    "stacked_dae num_layers=10**9",
    err("num_layers", "memory"),
    lambda: fr.stacked_dae(SX[:20], T, 10**9, fit="empirical"),
)
case(
    "stacked_dae fit='bogus'",
    err("fit"),
    lambda: fr.stacked_dae(SX[:20], T, 2, fit="bogus"),
)
case(
    "stacked_dae fit=None", err("fit"), lambda: fr.stacked_dae(SX[:20], T, 2, fit=None)
)
case(
    "stacked_dae mixture no law/K",
    err("law", "num_components"),
    lambda: fr.stacked_dae(SX[:20], T, 2),
)
case(
    "stacked_dae mixture no key",
    err("key"),
    lambda: fr.stacked_dae(SX[:20], T, 2, num_components=2),
)
case(
    "stacked_dae law wrong d",
    err("law", "x"),
    lambda: fr.stacked_dae(
        SX[:20], T, 2, law=fr.GaussianLaw(jnp.zeros(3), jnp.eye(3)), key=K
    ),
)
case(
    "stacked_dae law=array",
    err("law"),
    lambda: fr.stacked_dae(SX[:20], T, 2, law=jnp.eye(2), key=K),
)
for bw, lab in (
    (-1.0, "-1"),
    (float("nan"), "nan"),
    (float("inf"), "inf"),
    ("a", "'a'"),
):
    case(
        f"stacked_dae bandwidth={lab}",
        err("bandwidth"),
        lambda bw=bw: fr.stacked_dae(SX[:20], T, 2, fit="empirical", bandwidth=bw),
    )
for v, lab in ((0, "0"), (2.5, "2.5"), (-1, "-1")):
    case(
        f"stacked_dae em_iters={lab}",
        err("em_iters"),
        lambda v=v: fr.stacked_dae(SX[:20], T, 2, num_components=1, key=K, em_iters=v),
    )
    case(
        f"stacked_dae num_components={lab}",
        err("num_components"),
        lambda v=v: fr.stacked_dae(SX[:20], T, 2, num_components=v, key=K),
    )
    case(
        f"stacked_dae chunk_size={lab}",
        err("chunk_size"),
        lambda v=v: fr.stacked_dae(SX[:20], T, 2, fit="empirical", chunk_size=v),
    )
case(
    "stacked_dae num_components > n",
    err("num_components", "n"),
    lambda: fr.stacked_dae(SX[:3], T, 2, num_components=5, key=K),
)
case(
    "stacked_dae jit",
    err("jit", "jittable", "concrete"),
    lambda: jax.jit(lambda t: fr.stacked_dae(SX[:20], t, 2, fit="empirical"))(T),
)
case(
    "stacked_dae f32 shift +1e4 empirical",
    ok(
        close(
            lambda: stacked_emp_ref(npf((SX[:30] + 1e4).astype(F32)), T, 2),
            0,
            atol=3e-3,
        )
    ),
    lambda: fr.stacked_dae((SX[:30] + 1e4).astype(F32), T, 2, fit="empirical"),
)
case(
    "stacked_dae f32 scale x1e4 empirical",
    ok(
        close(
            lambda: stacked_emp_ref(npf((SX[:30] * 1e4).astype(F32)), T * 1e8, 2), 1e-4
        )
    ),
    lambda: fr.stacked_dae((SX[:30] * 1e4).astype(F32), T * 1e8, 2, fit="empirical"),
)

# ================================================================ fit_mixture


def gauss_fit_ref(x, reg):
    x = npf(x)
    return x.mean(0), np.cov(x.T, bias=True) + reg * np.eye(x.shape[1])


FX = SX
case(
    "fit_mixture K=1 mean",
    ok(close(lambda: gauss_fit_ref(FX, 1e-6)[0], 1e-6, get=lambda r: r.means[0])),
    lambda: fr.fit_mixture(FX, 1, key=K),
)
case(
    "fit_mixture K=1 cov",
    ok(close(lambda: gauss_fit_ref(FX, 1e-6)[1], 1e-5, get=lambda r: r.covs[0])),
    lambda: fr.fit_mixture(FX, 1, key=K),
)
bad_points(
    "fit_mixture x",
    lambda x: fr.fit_mixture(x, 1, key=K).means[0],
    FX,
    "x",
    ref=lambda x: gauss_fit_ref(x, 1e-6)[0],
    dim=None,
)
for v, lab in (
    (0, "0"),
    (-1, "-1"),
    (2.5, "2.5"),
    (True, "True"),
    ("2", "'2'"),
    (None, "None"),
):
    case(
        f"fit_mixture num_components={lab}",
        err("num_components"),
        lambda v=v: fr.fit_mixture(FX, v, key=K),
    )
for v, lab in ((0, "0"), (-1, "-1"), (2.5, "2.5"), (True, "True")):
    case(
        f"fit_mixture num_iters={lab}",
        err("num_iters"),
        lambda v=v: fr.fit_mixture(FX, 1, key=K, num_iters=v),
    )
for v, lab in (
    (-1.0, "-1"),
    (float("nan"), "nan"),
    (float("inf"), "inf"),
    ("a", "'a'"),
):
    case(
        f"fit_mixture reg={lab}",
        err("reg"),
        lambda v=v: fr.fit_mixture(FX, 1, key=K, reg=v),
    )
case(
    "fit_mixture reg=0 duplicated points",
    either(finite, "reg", "x", "singular"),
    lambda: fr.fit_mixture(jnp.tile(FX[:1], (10, 1)), 1, key=K, reg=0.0).covs,
)
case(
    "fit_mixture K > n",
    err("num_components", "n"),
    lambda: fr.fit_mixture(FX[:3], 5, key=K),
)
case("fit_mixture no key no init", err("key", "init"), lambda: fr.fit_mixture(FX, 2))
case("fit_mixture key=3", err("key"), lambda: fr.fit_mixture(FX, 2, key=3))
case(
    "fit_mixture init K mismatch",
    err("init", "num_components"),
    lambda: fr.fit_mixture(FX, 3, init=MIX),
)
case(
    "fit_mixture init wrong d",
    err("init"),
    lambda: fr.fit_mixture(
        FX, 1, init=fr.GaussianMixture(jnp.ones(1), jnp.zeros((1, 3)), jnp.eye(3)[None])
    ),
)
case(
    "fit_mixture init not mixture", err("init"), lambda: fr.fit_mixture(FX, 1, init="x")
)
case(
    "fit_mixture init=GaussianLaw",
    either(finite, "init"),
    lambda: fr.fit_mixture(FX, 1, init=LAW).means,
)
case(
    "fit_mixture jit",
    either(finite, "jit", "concrete"),
    lambda: jax.jit(lambda x: fr.fit_mixture(x, 1, key=K).means)(FX),
)
case(
    "fit_mixture jit NaN",
    err("x"),
    lambda: jax.jit(lambda x: fr.fit_mixture(x, 1, key=K).means)(nanify(FX)),
)
case(
    "fit_mixture f32 shift +1e4 K=1",
    ok(
        close(
            lambda: gauss_fit_ref(npf((FX + 1e4).astype(F32)), 1e-6)[1],
            1e-3,
            get=lambda r: r.covs[0],
        )
    ),
    lambda: fr.fit_mixture((FX + 1e4).astype(F32), 1, key=K),
)
case(
    "fit_mixture f32 scale x1e-3 K=1",
    ok(
        close(
            lambda: gauss_fit_ref(npf((FX * 1e-3).astype(F32)), 0.0)[1],
            1e-3,
            get=lambda r: r.covs[0],
        )
    ),
    lambda: fr.fit_mixture((FX * 1e-3).astype(F32), 1, key=K, reg=1e-14),
)
case(
    "fit_mixture f32 scale x1e4 K=1",
    ok(
        close(
            lambda: gauss_fit_ref(npf((FX * 1e4).astype(F32)), 0.0)[1],
            1e-3,
            get=lambda r: r.covs[0],
        )
    ),
    lambda: fr.fit_mixture((FX * 1e4).astype(F32), 1, key=K),
)
case(
    "fit_mixture x 1e30",
    either(finite, "x"),
    lambda: fr.fit_mixture(FX * 1e30, 1, key=K).covs,
)
case(
    "fit_mixture two clusters K=2",
    ok(
        lambda r: (
            None
            if np.allclose(np.sort(npf(r.means)[:, 0]), [-5.0, 5.0], atol=0.2)
            else f"means {npf(r.means)}"
        )
    ),
    lambda: fr.fit_mixture(
        jnp.concatenate(
            [
                SX - jnp.array([5.0, 0.0]) - SX.mean(0),
                SX + jnp.array([5.0, 0.0]) - SX.mean(0),
            ]
        ),
        2,
        key=K,
    ),
)

# ============================================================= learned DAEs

TX = jnp.asarray(RNG.normal(size=(64, 2)))
case(
    "train_denoiser small",
    ok(lambda r: finite(jax.vmap(r)(TX))),
    lambda: fr.train_denoiser(
        TX,
        0.1,
        key=K,
        width=8,
        depth=1,
        num_steps=20,
        batch_size=16,
        progress=False,
        steps_per_call=10,
    ),
)
TD = dict(
    key=K, width=8, depth=1, num_steps=4, batch_size=8, progress=False, steps_per_call=2
)
bad_points(
    "train_denoiser x",
    lambda x: fr.train_denoiser(x, 0.1, **TD).mlp.layers[0].weight,
    TX,
    "x",
    dim=None,
)
bad_time(
    "train_denoiser",
    lambda t: fr.train_denoiser(TX, t, **TD).mlp.layers[0].weight,
    zero_ok=False,
)
for arg in ("width", "depth", "num_steps", "batch_size", "steps_per_call"):
    for v, lab in ((0, "0"), (-1, "-1"), (2.5, "2.5"), (True, "True"), ("4", "'4'")):
        if arg == "depth" and v == 0:
            continue  # a linear residual map is a legal MLP
        case(
            f"train_denoiser {arg}={lab}",
            err(arg),
            lambda arg=arg, v=v: fr.train_denoiser(TX, 0.1, **{**TD, arg: v}),
        )
case(
    "train_denoiser width=10**9",
    err("width", "memory"),
    lambda: fr.train_denoiser(TX, 0.1, **{**TD, "width": 10**9}),
)
for v, lab in (
    (0.0, "0"),
    (-1e-3, "-1e-3"),
    (float("nan"), "nan"),
    (float("inf"), "inf"),
    ("a", "'a'"),
):
    case(
        f"train_denoiser learning_rate={lab}",
        err("learning_rate"),
        lambda v=v: fr.train_denoiser(TX, 0.1, **{**TD, "learning_rate": v}),
    )
case(
    "train_denoiser progress='yes'",
    err("progress"),
    lambda: fr.train_denoiser(TX, 0.1, **{**TD, "progress": "yes"}),
)
case(
    "train_denoiser key=None",
    err("key"),
    lambda: fr.train_denoiser(TX, 0.1, **{**TD, "key": None}),
)
case(
    "train_denoiser mesh='x'",
    err("mesh"),
    lambda: fr.train_denoiser(TX, 0.1, **TD, mesh="x"),
)
case(
    "train_denoiser x 1e30",
    either(finite, "x"),  # float64 squares 1e30 fine; float32 must refuse by name
    lambda: fr.train_denoiser(TX * 1e30, 0.1, **TD).mlp.layers[0].weight,
)
case(
    "train_denoiser jit",
    err("jit", "jittable", "concrete"),
    lambda: jax.jit(lambda x: fr.train_denoiser(x, 0.1, **TD).mlp.layers[0].weight)(TX),
)
case(
    "train_denoiser f32 shift +1e4 finite",
    ok(lambda r: finite(r)),
    lambda: jax.vmap(fr.train_denoiser((TX + 1e4).astype(F32), 0.1, **TD))(
        (TX + 1e4).astype(F32)
    ),
)
case(
    "train_denoiser batch_size > n",
    either(finite, "batch_size"),
    lambda: (
        fr.train_denoiser(TX[:4], 0.1, **{**TD, "batch_size": 64}).mlp.layers[0].weight
    ),
)
DEN = fr.train_denoiser(TX, 0.1, **TD)
case(
    "Denoiser call point",
    ok(lambda r: None if r.shape == (2,) else f"shape {r.shape}"),
    lambda: DEN(TX[0]),
)
case("Denoiser call batch", err("x", "vmap", "shape"), lambda: DEN(TX))
case("Denoiser call wrong d", err("x", "shape"), lambda: DEN(jnp.zeros(3)))
case("Denoiser call NaN", err("x"), lambda: DEN(jnp.array([np.nan, 0.0])))
case(
    "Denoiser displacement = g(x)-x",
    ok(close(lambda: npf(DEN(TX[0])) - npf(TX[0]), 1e-6)),
    lambda: DEN.displacement(TX[0]),
)
MLP22 = eqx.nn.MLP(2, 2, 4, 1, key=K)
for v, lab in ((-1.0, "-1"), (float("nan"), "nan"), ("a", "'a'"), (None, "None")):
    case(f"Denoiser noise={lab}", err("noise"), lambda v=v: fr.Denoiser(MLP22, v))
case("Denoiser mlp=None", err("mlp"), lambda: fr.Denoiser(None, 0.1))
case(
    "Denoiser mlp in!=out",
    err("mlp"),
    lambda: fr.Denoiser(eqx.nn.MLP(2, 3, 4, 1, key=K), 0.1),
)
case(
    "train_stacked_denoisers",
    ok(
        lambda r: (
            None
            if len(r[0]) == 2 and r[1].shape[-2:] == (64, 2) and finite(r[1]) is None
            else f"{len(r[0])} {r[1].shape}"
        )
    ),
    lambda: fr.train_stacked_denoisers(TX, 0.2, 2, **{k: v for k, v in TD.items()}),
)
for L, lab in ((0, "0"), (2.5, "2.5"), (True, "True")):
    case(
        f"train_stacked_denoisers num_layers={lab}",
        err("num_layers"),
        lambda L=L: fr.train_stacked_denoisers(TX, 0.2, L, **TD),
    )
bad_time(
    "train_stacked_denoisers",
    lambda t: fr.train_stacked_denoisers(TX, t, 2, **TD)[1],
    zero_ok=False,
)
case(
    "train_stacked_denoisers bogus kwarg",
    err("bogus"),
    lambda: fr.train_stacked_denoisers(TX, 0.2, 2, bogus=1, **TD),
)
case(
    "train_stacked_denoisers NaN x",
    err("x"),
    lambda: fr.train_stacked_denoisers(nanify(TX), 0.2, 2, **TD),
)


def rme_ref(f, g, x):
    x = npf(x)
    d, ds = npf(f(jnp.asarray(x))) - x, npf(g(jnp.asarray(x))) - x
    return np.linalg.norm(d - ds) / np.linalg.norm(ds)


def F1(x):
    return 1.5 * x


def G1(x):
    return 2.0 * x + 1.0


case(
    "relative_map_error",
    ok(close(lambda: rme_ref(F1, G1, X), 1e-6)),
    lambda: fr.relative_map_error(F1, G1, X),
)
case(
    "relative_map_error identical",
    ok(close(0.0, 0, atol=1e-12)),
    lambda: fr.relative_map_error(G1, G1, X),
)
case(
    "relative_map_error reference identity (0/0)",
    err("reference", "displacement", "zero"),
    lambda: fr.relative_map_error(F1, lambda x: x, X),
)
bad_points(
    "relative_map_error x",
    lambda x: fr.relative_map_error(F1, G1, x),
    X,
    "x",
    ref=lambda x: rme_ref(F1, G1, x),
    dim=None,
)
case(
    "relative_map_error fn not callable",
    err("fn"),
    lambda: fr.relative_map_error(3.0, G1, X),
)
case(
    "relative_map_error reference not callable",
    err("reference"),
    lambda: fr.relative_map_error(F1, None, X),
)
case(
    "relative_map_error fn wrong shape",
    err("fn", "shape"),
    lambda: fr.relative_map_error(lambda x: x[:, :1], G1, X),
)
case(
    "relative_map_error fn NaN",
    err("fn", "NaN"),
    lambda: fr.relative_map_error(lambda x: x * jnp.nan, G1, X),
)
case(
    "relative_map_error jit",
    ok(close(lambda: rme_ref(F1, G1, X), 1e-6)),
    lambda: jax.jit(lambda x: fr.relative_map_error(F1, G1, x))(X),
)
case(
    "relative_map_error f32 shift +1e4",
    ok(close(lambda: rme_ref(F1, G1, X), 2e-2)),
    lambda: fr.relative_map_error(
        lambda x: x + 0.5 * (x - 1e4),
        lambda x: x + (x - 1e4) + 1.0,
        (X + 1e4).astype(F32),
    ),
)

# ================================================= displacement_network


def disp(x):
    return -0.5 * x


DN = dict(key=K, num_units=400, num_nodes=12, compress_to=40)
case(
    "displacement_network small (approximates inside)",
    ok(
        lambda r: (lambda err: None if err < 0.25 else f"rel err {err:.3f}")(
            float(
                np.linalg.norm(
                    npf(jax.vmap(r[0])(X * 0.3)) - npf(jax.vmap(r[1])(X * 0.3))
                )
                / np.linalg.norm(npf(jax.vmap(r[1])(X * 0.3)))
            )
        )
    ),
    lambda: fr.displacement_network(
        disp, jnp.zeros(2), 1.5, key=K, num_units=4000, num_nodes=24, compress_to=150
    ),
)
case(
    "displacement_network target is d*chi",
    ok(
        close(
            lambda: (
                -0.5
                * npf(X[:3])
                * np.exp(
                    -0.5
                    * (np.linalg.norm(npf(X[:3]), axis=1, keepdims=True) / 1.5) ** 4
                )
            ),
            1e-6,
            get=lambda r: jax.vmap(r[1])(X[:3]),
        )
    ),
    lambda: fr.displacement_network(disp, jnp.zeros(2), 1.5, **DN),
)
case(
    "displacement_network not callable",
    err("displacement"),
    lambda: fr.displacement_network(3.0, jnp.zeros(2), 1.5, **DN),
)
case(
    "displacement_network center NaN",
    err("center"),
    lambda: fr.displacement_network(disp, jnp.array([np.nan, 0.0]), 1.5, **DN),
)
case(
    "displacement_network center 2-D",
    err("center"),
    lambda: fr.displacement_network(disp, jnp.zeros((2, 2)), 1.5, **DN),
)
case(
    "displacement_network center str",
    err("center"),
    lambda: fr.displacement_network(disp, "ab", 1.5, **DN),
)
case(
    "displacement_network center None",
    err("center"),
    lambda: fr.displacement_network(disp, None, 1.5, **DN),
)
for v, lab in (
    (0.0, "0"),
    (-1.0, "-1"),
    (float("nan"), "nan"),
    (float("inf"), "inf"),
    ("a", "'a'"),
):
    case(
        f"displacement_network radius={lab}",
        err("radius"),
        lambda v=v: fr.displacement_network(disp, jnp.zeros(2), v, **DN),
    )
    case(
        f"displacement_network a_scale={lab}",
        err("a_scale"),
        lambda v=v: fr.displacement_network(disp, jnp.zeros(2), 1.5, a_scale=v, **DN),
    )
for arg in ("num_units", "num_nodes", "compress_to"):
    for v, lab in ((0, "0"), (-1, "-1"), (2.5, "2.5"), (True, "True")):
        case(
            f"displacement_network {arg}={lab}",
            err(arg),
            lambda arg=arg, v=v: fr.displacement_network(
                disp, jnp.zeros(2), 1.5, **{**DN, arg: v}
            ),
        )
case(
    "displacement_network num_nodes huge",
    err("num_nodes", "memory"),
    lambda: fr.displacement_network(
        disp, jnp.zeros(2), 1.5, **{**DN, "num_nodes": 10**7}
    ),
)
case(
    "displacement_network num_units huge",
    err("num_units", "memory"),
    lambda: fr.displacement_network(
        disp, jnp.zeros(2), 1.5, **{**DN, "num_units": 10**13}
    ),
)
for v, lab in (
    (1, "1 (odd)"),
    (3, "3"),
    (0, "0"),
    (2.5, "2.5"),
    (-2, "-2"),
    ("2", "'2'"),
):
    case(
        f"displacement_network order={lab}",
        err("order"),
        lambda v=v: fr.displacement_network(disp, jnp.zeros(2), 1.5, order=v, **DN),
    )
case(
    "displacement_network key=None",
    err("key"),
    lambda: fr.displacement_network(disp, jnp.zeros(2), 1.5, **{**DN, "key": None}),
)
case(
    "displacement_network displacement wrong shape",
    err("displacement", "shape"),
    lambda: fr.displacement_network(lambda x: x[:1], jnp.zeros(2), 1.5, **DN),
)
case(
    "displacement_network displacement NaN",
    err("displacement", "NaN"),
    lambda: fr.displacement_network(lambda x: x * jnp.nan, jnp.zeros(2), 1.5, **DN),
)
case(
    "displacement_network jit",
    either(finite, "jit", "concrete"),
    lambda: jax.jit(
        lambda c: jax.vmap(fr.displacement_network(disp, c, 1.5, **DN)[0])(X[:3])
    )(jnp.zeros(2)),
)

# ======================================================= entropy_curves etc.

ECK = dict(key=K, num_samples=200, k=3)


def ec_closed(ts):
    return np.array([gauss_entropy(S0 - 2 * t * np.eye(2)) for t in ts])


ETS = jnp.array([0.0, 0.1, 0.2])
case(
    "entropy_curves closed_form",
    ok(close(lambda: ec_closed(ETS), 1e-8, get=lambda r: r["closed_form"])),
    lambda: fr.entropy_curves(LAW, ETS, **ECK),
)
case(
    "entropy_curves continuity within 4 stderr",
    ok(
        lambda r: (
            None
            if np.all(
                np.abs(r["continuity"] - ec_closed(ETS))
                <= 4 * r["continuity_stderr"] + 1e-3
            )
            else f"{r['continuity']} vs {ec_closed(ETS)}"
        )
    ),
    lambda: fr.entropy_curves(LAW, ETS, **ECK),
)
case(
    "entropy_curves fisher",
    ok(
        close(
            lambda: [np.trace(np.linalg.inv(S0 - 2 * t * np.eye(2))) for t in ETS],
            1e-6,
            get=lambda r: r["fisher"],
        )
    ),
    lambda: fr.entropy_curves(LAW, ETS, **ECK),
)
case(
    "entropy_curves ts past t*",
    err("ts", "collapse"),
    lambda: fr.entropy_curves(LAW, jnp.array([0.0, TSTAR * 1.1]), **ECK),
)
case(
    "entropy_curves ts decreasing",
    err("ts"),
    lambda: fr.entropy_curves(LAW, jnp.array([0.0, 0.2, 0.1]), **ECK),
)
case(
    "entropy_curves ts negative",
    err("ts"),
    lambda: fr.entropy_curves(LAW, jnp.array([-0.1, 0.1]), **ECK),
)
case(
    "entropy_curves ts NaN",
    err("ts"),
    lambda: fr.entropy_curves(LAW, jnp.array([0.0, jnp.nan]), **ECK),
)
case(
    "entropy_curves ts empty",
    err("ts"),
    lambda: fr.entropy_curves(LAW, jnp.zeros(0), **ECK),
)
case(
    "entropy_curves ts 2-D",
    err("ts"),
    lambda: fr.entropy_curves(LAW, jnp.zeros((2, 2)), **ECK),
)
case("entropy_curves ts str", err("ts"), lambda: fr.entropy_curves(LAW, "abc", **ECK))
case(
    "entropy_curves ts single [0]",
    ok(close(lambda: ec_closed([0.0]), 1e-8, get=lambda r: r["closed_form"])),
    lambda: fr.entropy_curves(LAW, jnp.array([0.0]), **ECK),
)
case("entropy_curves law=None", err("law"), lambda: fr.entropy_curves(None, ETS, **ECK))
case(
    "entropy_curves key=None",
    err("key"),
    lambda: fr.entropy_curves(LAW, ETS, **{**ECK, "key": None}),
)
for v, lab in ((0, "0"), (1, "1"), (2.5, "2.5"), (True, "True")):
    case(
        f"entropy_curves num_samples={lab}",
        err("num_samples"),
        lambda v=v: fr.entropy_curves(LAW, ETS, **{**ECK, "num_samples": v}),
    )
for v, lab in ((0, "0"), (2.5, "2.5"), (500, "500 >= n")):
    case(
        f"entropy_curves k={lab}",
        err("k"),
        lambda v=v: fr.entropy_curves(LAW, ETS, **{**ECK, "k": v}),
    )
for v, lab in ((-1.0, "-1"), (float("nan"), "nan")):  # rtol=0 with atol>0 is legal
    case(
        f"entropy_curves rtol={lab}",
        err("rtol"),
        lambda v=v: fr.entropy_curves(LAW, ETS, **ECK, rtol=v),
    )
case(
    "entropy_curves num_samples=10**12",
    err("num_samples", "memory"),
    lambda: fr.entropy_curves(LAW, ETS, **{**ECK, "num_samples": 10**12}),
)
case(
    "entropy_curves return_tracks 'yes'",
    err("return_tracks"),
    lambda: fr.entropy_curves(LAW, ETS, **ECK, return_tracks="yes"),
)
case(
    "entropy_curves return_tracks",
    ok(lambda r: None if r[1].points.shape == (3, 200, 2) else f"{r[1].points.shape}"),
    lambda: fr.entropy_curves(LAW, ETS, **ECK, return_tracks=True),
)
case(
    "entropy_curves jit",
    err("jit", "jittable"),
    lambda: jax.jit(lambda ts: fr.entropy_curves(LAW, ts, **ECK)["closed_form"])(ETS),
)

DT = dict(key=K, num_samples=100, em_iters=3)


def depth_ref_entropy(L):
    return gauss_entropy(stacked_laws_ref(S0, T, L)[-1])


case(
    "depth_table gauss entropy",
    ok(
        close(
            lambda: [depth_ref_entropy(L) for L in (1, 4)],
            1e-8,
            get=lambda r: [row["entropy"] for row in r],
        )
    ),
    lambda: fr.depth_table(LAW, T, (1, 4)),
)
case(
    "depth_table gauss deep entropy",
    ok(
        close(
            lambda: [gauss_entropy(S0 - 2 * T * np.eye(2))] * 2,
            1e-8,
            get=lambda r: [row["entropy_deep"] for row in r],
        )
    ),
    lambda: fr.depth_table(LAW, T, (1, 4)),
)
case(
    "depth_table w2 decreases with depth",
    ok(lambda r: None if r[0]["w2_to_deep"] > r[1]["w2_to_deep"] > 0 else str(r)),
    lambda: fr.depth_table(LAW, T, (1, 8)),
)
case(
    "depth_table t past t*",
    err("t", "collapse"),
    lambda: fr.depth_table(LAW, TSTAR * 2, (1, 2)),
)
bad_time("depth_table", lambda t: fr.depth_table(LAW, t, (1, 2)), zero_ok=True)
case("depth_table num_layers=()", err("num_layers"), lambda: fr.depth_table(LAW, T, ()))
case(
    "depth_table num_layers=(0,)",
    err("num_layers"),
    lambda: fr.depth_table(LAW, T, (0,)),
)
case(
    "depth_table num_layers=(2.5,)",
    err("num_layers"),
    lambda: fr.depth_table(LAW, T, (2.5,)),
)
case(
    "depth_table num_layers=3 (int)",
    either(lambda r: None if len(r) == 1 else str(r), "num_layers"),
    lambda: fr.depth_table(LAW, T, 3),
)
case(
    "depth_table num_layers='12'",
    err("num_layers"),
    lambda: fr.depth_table(LAW, T, "12"),
)
case("depth_table law=None", err("law"), lambda: fr.depth_table(None, T, (1,)))
case("depth_table mixture no key", err("key"), lambda: fr.depth_table(MIX, 0.1, (1,)))
case(
    "depth_table mixture small",
    ok(
        lambda r: (
            finite([row["map_rms"] for row in r])
            if all(np.isfinite(row["map_rms"]) for row in r)
            else str(r)
        )
    ),
    lambda: fr.depth_table(MIX, 0.1, (1, 2), **DT),
)
for v, lab in ((1, "1"), (2.5, "2.5"), (True, "True")):
    case(
        f"depth_table num_samples={lab}",
        err("num_samples"),
        lambda v=v: fr.depth_table(MIX, 0.1, (1,), **{**DT, "num_samples": v}),
    )
case(
    "depth_table em_iters=0",
    err("em_iters"),
    lambda: fr.depth_table(MIX, 0.1, (1,), **{**DT, "em_iters": 0}),
)
case(
    "depth_table jit",
    err("jit", "jittable"),
    lambda: jax.jit(lambda t: fr.depth_table(LAW, t, (1,))[0]["entropy"])(T),
)

case("dae_story quick=1", err("quick"), lambda: fr.dae_story(quick=1))
case("dae_story progress='yes'", err("progress"), lambda: fr.dae_story(progress="yes"))
case("dae_story figures=None", err("figures"), lambda: fr.dae_story(figures=None))
case("dae_story key=7", err("key"), lambda: fr.dae_story(key=7))
case("dae_story out_dir=3", err("out_dir"), lambda: fr.dae_story(out_dir=3))
case(
    "dae_story out_dir is a file",
    err("out_dir"),
    lambda: fr.dae_story(out_dir=__file__),
)
case("dae_story out_dir=''", err("out_dir"), lambda: fr.dae_story(out_dir=""))

# ============================================================= capture / record

CMLP = eqx.nn.MLP(3, 2, 5, 2, key=K)
CX = jnp.asarray(RNG.normal(size=(10, 3)))


def mlp_layers_ref(mlp, x):
    """Input, each hidden layer after its activation, output: by hand in float64."""
    h = npf(x)
    out = [h]
    for i, lin in enumerate(mlp.layers):
        h = h @ npf(lin.weight).T + npf(lin.bias)
        if i < len(mlp.layers) - 1:
            h = np.maximum(h, 0.0)  # eqx.nn.MLP default activation relu
        out.append(h)
    return out


case(
    "capture_features mlp layers",
    ok(
        lambda r: (
            None
            if len(r.layers) == 4
            and all(
                np.allclose(a, b, rtol=1e-5, atol=1e-6)
                for a, b in zip(r.layers, mlp_layers_ref(CMLP, CX))
            )
            else "layers differ"
        )
    ),
    lambda: fr.capture_features(CMLP, CX),
)
case(
    "capture_features names",
    ok(lambda r: None if r.names[0] == "input" and len(r.names) == 4 else str(r.names)),
    lambda: fr.capture_features(CMLP, CX),
)
case(
    "record_tracks mlp",
    ok(
        lambda r: (
            None
            if r.points.shape[0] == 4 and r.points.shape[1] == 10
            else str(r.points.shape)
        )
    ),
    lambda: fr.record_tracks(CMLP, CX),
)
case(
    "capture_features activations='both'",
    ok(lambda r: None if len(r.layers) == 6 else str(r.names)),
    lambda: fr.capture_features(CMLP, CX, activations="both"),
)
bad_points(
    "capture_features x",
    lambda x: fr.capture_features(CMLP, x).layers[-1],
    CX,
    "x",
    ref=lambda x: mlp_layers_ref(CMLP, x)[-1],
    dim=3,
    single_either=True,  # tracks need 2 samples: a named refusal is fine
    bool_ok=True,
)
case("capture_features model=None", err("model"), lambda: fr.capture_features(None, CX))
case("capture_features model=3", err("model"), lambda: fr.capture_features(3, CX))
case(
    "capture_features model='mlp'", err("model"), lambda: fr.capture_features("mlp", CX)
)
case(
    "capture_features empty list model",
    err("model"),
    lambda: fr.capture_features([], CX),
)
case(
    "capture_features activations='bogus'",
    err("activations"),
    lambda: fr.capture_features(CMLP, CX, activations="bogus"),
)
for v, lab in ((0, "0"), (-1, "-1"), (2.5, "2.5"), (True, "True"), ("8", "'8'")):
    case(
        f"capture_features chunk_size={lab}",
        err("chunk_size"),
        lambda v=v: fr.capture_features(CMLP, CX, chunk_size=v),
    )
case(
    "capture_features chunk_size=3 (uneven)",
    ok(
        lambda r: (
            None
            if np.allclose(
                r.layers[-1], mlp_layers_ref(CMLP, CX)[-1], rtol=1e-5, atol=1e-6
            )
            else "off"
        )
    ),
    lambda: fr.capture_features(CMLP, CX, chunk_size=3),
)
case(
    "capture_features stages unknown",
    err("stages"),
    lambda: fr.capture_features(CMLP, CX, stages=["nope"]),
)
case(
    "capture_features stages out of range",
    err("stages"),
    lambda: fr.capture_features(CMLP, CX, stages=[99]),
)
case(
    "capture_features stages='0'",
    err("stages"),
    lambda: fr.capture_features(CMLP, CX, stages="0"),
)
case(
    "capture_features stages=[]",
    either(finite, "stages"),
    lambda: fr.capture_features(CMLP, CX, stages=[]),
)
case(
    "capture_features progress='x'",
    err("progress"),
    lambda: fr.capture_features(CMLP, CX, progress="x"),
)
case(
    "capture_features mesh='x'",
    err("mesh"),
    lambda: fr.capture_features(CMLP, CX, mesh="x"),
)
case(
    "capture_features model makes NaN",
    err("model", "NaN", "layer", "stage"),
    lambda: fr.capture_features(
        eqx.nn.Sequential([eqx.nn.Lambda(lambda x: x * jnp.nan)]), CX
    ),
)
case(
    "capture_features model wrong input dim",
    err("x", "model"),
    lambda: fr.capture_features(CMLP, jnp.zeros((4, 5))),
)
case(
    "capture_features list of callables",
    ok(lambda r: None if np.allclose(r.layers[-1], npf(CX) * 6) else "off"),
    lambda: fr.capture_features([lambda v: 2 * v, lambda v: 3 * v], CX),
)
case(
    "capture_features Sequential",
    ok(
        lambda r: (
            None
            if len(r.layers) == 3 and np.allclose(r.layers[2], np.tanh(npf(CX)) * 2)
            else str(r.names)
        )
    ),
    lambda: fr.capture_features(
        eqx.nn.Sequential([eqx.nn.Lambda(jnp.tanh), eqx.nn.Lambda(lambda v: 2 * v)]), CX
    ),
)
case(
    "capture_features images (n,1,4,4)",
    ok(lambda r: None if r.layers[0].shape == (5, 16) else str(r.layers[0].shape)),
    lambda: fr.capture_features(
        eqx.nn.Sequential(
            [eqx.nn.Lambda(lambda v: v.reshape(-1)), eqx.nn.Lambda(jnp.tanh)]
        ),
        jnp.ones((5, 1, 4, 4)),
    ),
)
case(
    "capture_features jit",
    either(finite, "jit", "jittable"),
    lambda: jax.jit(lambda x: fr.capture_features(CMLP, x).layers[-1])(CX),
)
case(
    "capture_features scan MLP",
    either(finite, "scan", "model"),
    lambda: fr.capture_features(
        eqx.nn.MLP(3, 2, 5, 2, key=K, scan=True)
        if "scan" in eqx.nn.MLP.__init__.__code__.co_varnames
        else CMLP,
        CX,
    ).layers[-1],
)
case(
    "capture_features f32 x1e4 (linear model exact)",
    ok(
        lambda r: (
            None
            if np.allclose(r.layers[-1], npf((CX * 1e4).astype(F32)) * 6, rtol=1e-6)
            else "off"
        )
    ),
    lambda: fr.capture_features(
        [lambda v: 2 * v, lambda v: 3 * v], (CX * 1e4).astype(F32)
    ),
)
case(
    "CapturedFeatures to_tracks",
    ok(lambda r: None if r.points.shape[:2] == (3, 10) else str(r.points.shape)),
    lambda: fr.capture_features([lambda v: 2 * v, lambda v: 3 * v], CX).to_tracks(),
)
case(
    "CapturedFeatures to_tracks times wrong length",
    err("times"),
    lambda: fr.capture_features([lambda v: 2 * v, lambda v: 3 * v], CX).to_tracks(
        jnp.array([0.0, 1.0])
    ),
)
case(
    "CapturedFeatures to_tracks times NaN",
    err("times"),
    lambda: fr.capture_features([lambda v: 2 * v, lambda v: 3 * v], CX).to_tracks(
        jnp.array([0.0, jnp.nan, 1.0])
    ),
)
case(
    "CapturedFeatures to_tracks times decreasing",
    err("times"),
    lambda: fr.capture_features([lambda v: 2 * v, lambda v: 3 * v], CX).to_tracks(
        jnp.array([0.0, 2.0, 1.0])
    ),
)
case(
    "CapturedFeatures mismatched n",
    err("layers"),
    lambda: fr.CapturedFeatures(
        (np.zeros((3, 2)), np.zeros((4, 2))), ("input", "output")
    ),
)
case(
    "CapturedFeatures names length",
    err("names"),
    lambda: fr.CapturedFeatures((np.zeros((3, 2)), np.zeros((3, 2))), ("input",)),
)
case(
    "CapturedFeatures NaN layer",
    err("layers", "NaN"),
    lambda: fr.CapturedFeatures(
        (np.zeros((3, 2)), np.full((3, 2), np.nan)), ("input", "output")
    ),
)
case(
    "record_tracks times",
    ok(lambda r: None if np.allclose(npf(r.times), [0.0, 0.5, 1.0]) else str(r.times)),
    lambda: fr.record_tracks(
        [lambda v: 2 * v, lambda v: 3 * v], CX, times=jnp.array([0.0, 0.5, 1.0])
    ),
)
case(
    "record_tracks times wrong length",
    err("times"),
    lambda: fr.record_tracks(CMLP, CX, times=jnp.array([0.0, 1.0])),
)
case("record_tracks model=None", err("model"), lambda: fr.record_tracks(None, CX))
case("record_tracks NaN x", err("x"), lambda: fr.record_tracks(CMLP, nanify(CX)))
case(
    "record_tracks single sample",
    either(
        lambda r: (
            None
            if r.points.shape[1] == 1 and finite(r.points) is None
            else str(r.points.shape)
        ),
        "`x`",
    ),
    lambda: fr.record_tracks(CMLP, CX[:1]),
)
case(
    "record_tracks chunk_size=0",
    err("chunk_size"),
    lambda: fr.record_tracks(CMLP, CX, chunk_size=0),
)
case(
    "record_tracks huge x 1e30",
    either(finite, "x", "model", "overflow"),
    lambda: fr.record_tracks(CMLP, CX * 1e30).points,
)

with contextlib.suppress(ImportError):
    import torch

    torch.manual_seed(0)
    TNET = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)
    )
    CXN = np.asarray(CX, np.float32)

    def torch_ref(x):
        with torch.no_grad():
            return TNET(torch.as_tensor(np.asarray(x, np.float32))).numpy()

    case(
        "capture_features torch output",
        ok(
            lambda r: (
                None if np.allclose(r.layers[-1], torch_ref(CXN), atol=1e-5) else "off"
            )
        ),
        lambda: fr.capture_features(TNET, CXN),
    )
    case(
        "capture_features torch tensor input",
        ok(
            lambda r: (
                None if np.allclose(r.layers[-1], torch_ref(CXN), atol=1e-5) else "off"
            )
        ),
        lambda: fr.capture_features(TNET, torch.as_tensor(CXN)),
    )
    case(
        "capture_features torch stages unknown",
        err("stages"),
        lambda: fr.capture_features(TNET, CXN, stages=["nope"]),
    )
    case(
        "capture_features torch wrong input dim",
        err("x", "model"),
        lambda: fr.capture_features(TNET, np.zeros((4, 5), np.float32)),
    )
    case(
        "capture_features torch NaN x",
        err("x"),
        lambda: fr.capture_features(TNET, np.asarray(nanify(CXN))),
    )
    case(
        "capture_features torch float64 x",
        either(
            lambda r: (
                None if np.allclose(r.layers[-1], torch_ref(CXN), atol=1e-5) else "off"
            ),
            "x",
            "dtype",
        ),
        lambda: fr.capture_features(TNET, CXN.astype(np.float64)),
    )

with contextlib.suppress(ImportError):
    from flax import nnx

    FNET = nnx.Sequential(
        nnx.Linear(3, 4, rngs=nnx.Rngs(0)), nnx.tanh, nnx.Linear(4, 2, rngs=nnx.Rngs(1))
    )
    case(
        "capture_features nnx output",
        ok(
            lambda r: (
                None
                if np.allclose(
                    r.layers[-1], np.asarray(FNET(CX.astype(F32))), atol=1e-5
                )
                else "off"
            )
        ),
        lambda: fr.capture_features(FNET, CX.astype(F32)),
    )
    case(
        "capture_features nnx stages unknown",
        err("stages"),
        lambda: fr.capture_features(FNET, CX, stages=["nope"]),
    )
    case(
        "capture_features nnx wrong input dim",
        err("x", "model"),
        lambda: fr.capture_features(FNET, jnp.zeros((4, 5))),
    )


# ======================================================================== CLI

TMP = pathlib.Path(tempfile.mkdtemp(prefix="h14d-"))
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}


def run_cli(*argv, cwd=None, umask=None):
    pre = (lambda: os.umask(umask)) if umask is not None else None
    return subprocess.run(
        [sys.executable, "-m", "flowrep", *argv],
        cwd=cwd or TMP,
        capture_output=True,
        text=True,
        timeout=280,
        env=ENV,
        preexec_fn=pre,
    )


def cli(*argv, check=None, cwd=None):
    """Exit 0 is a value (`check` judges it); a non-zero exit raises its last stderr line."""

    def go():
        r = run_cli(*argv, cwd=cwd)
        if r.returncode == 0:
            return "exit 0" if check is None else check(r)
        err_lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
        # the error line, not a progress bar redrawn after it
        err_lines = [
            ln[ln.index("flowrep:") :] for ln in err_lines if "flowrep:" in ln
        ] or err_lines
        if any("Traceback" in ln for ln in err_lines):
            raise AssertionError("traceback: " + (err_lines[-1] if err_lines else ""))
        raise ValueError(
            err_lines[-1] if err_lines else f"exit {r.returncode} with no message"
        )

    return go


def user_dir(name):
    d = TMP / name
    d.mkdir()
    (d / "mine.txt").write_text("the user's own file")
    return d


def survives(d, *argv_before):
    def go():
        try:
            return cli(*argv_before, "--out", str(d))()
        finally:
            if not (d / "mine.txt").exists():
                raise AssertionError(f"the user's file in {d} was deleted")

    return go


def ok_cli(r):
    return r


def cli_ok(check):
    return ("ok", check)


AT = ("reproduce", "admissibility-table")
if MODE == "cli":
    case("cli --help", cli_ok(lambda r: None if r == "exit 0" else r), cli("--help"))
    case(
        "cli --version",
        cli_ok(lambda r: None if r == "exit 0" else r),
        cli("--version"),
    )
    case("cli no subcommand", err("command", "usage", "demo", "reproduce"), cli())
    case("cli unknown subcommand", err("invalid choice", "bogus"), cli("bogus"))
    case(
        "cli reproduce unknown job",
        err("bogus", "NAME", "job"),
        cli("reproduce", "bogus"),
    )
    case("cli reproduce no job", err("NAME", "required"), cli("reproduce"))
    for s in ("-1", "abc", "2.5", "", "1e3", "99999999999999999999"):
        case(
            f"cli --seed {s!r}",
            err("--seed"),
            cli(*AT, "--seed", s, "--out", str(TMP / f"seed{s}")),
        )
    case("cli --quick --full", err("--quick", "--full"), cli(*AT, "--quick", "--full"))
    case("cli --out ''", err("--out"), cli(*AT, "--out", ""))
    case("cli --out /", err("--out"), cli(*AT, "--out", "/"))
    case("cli --out $HOME", err("--out"), cli(*AT, "--out", os.path.expanduser("~")))
    case("cli --out .", err("--out"), cli(*AT, "--out", ".", cwd=user_dir("cwd_user")))
    FILE = TMP / "afile.txt"
    FILE.write_text("keep me")
    case("cli --out existing file", err("--out"), cli(*AT, "--out", str(FILE)))
    case("cli --out under a file", err("--out"), cli(*AT, "--out", str(FILE / "sub")))
    case(
        "cli --out in /proc (unwritable parent)",
        err("--out"),
        cli(*AT, "--out", "/proc/h14d-out"),
    )
    case(
        "cli --out non-empty user dir survives",
        err("--out"),
        survives(user_dir("user1"), *AT),
    )
    link = TMP / "link_to_user"
    link.symlink_to(user_dir("user2"))
    case("cli --out symlink to a user dir survives", err("--out"), survives(link, *AT))
    (TMP / "dangling").symlink_to(TMP / "nowhere")
    case(
        "cli --out dangling symlink",
        err("--out"),
        cli(*AT, "--out", str(TMP / "dangling")),
    )
    hid = TMP / "hidden_only"
    hid.mkdir()
    (hid / ".git").write_text("x")
    case(
        "cli --out dir with only a hidden file",
        err("--out"),
        cli(*AT, "--out", str(hid)),
    )
    case(
        "cli demo --out user dir survives",
        err("--out"),
        survives(user_dir("user3"), "demo"),
    )
    case(
        "cli analyze --out user dir survives",
        err("--out"),
        survives(user_dir("user4"), "analyze", "nomod:fn"),
    )

    def new_out_run():
        d = TMP / "fresh" / "report"
        d.parent.mkdir()
        r = run_cli(*AT, "--out", str(d), umask=0o027)
        if r.returncode:
            raise ValueError(r.stderr.strip().splitlines()[-1])
        files = [p for p in d.rglob("*") if p.is_file()]
        if not files:
            return "no files written"
        bad = [p for p in files if p.stat().st_mode & 0o007]
        if bad:
            return f"umask 027 not respected: {bad[0].name} mode {oct(bad[0].stat().st_mode & 0o777)}"
        left = [p.name for p in d.parent.iterdir() if p.name != "report"]
        if left:
            return f"left behind next to --out: {left}"
        # a second run replaces a previous report
        r = run_cli(*AT, "--out", str(d))
        if r.returncode:
            return (
                "refused to replace its own previous report: "
                + r.stderr.strip().splitlines()[-1]
            )
        # (a user's file added inside a previous report is replaced with it, as
        # documented: "a previous flowrep report, which is replaced"; not judged here)
        return None

    case(
        "cli --out missing parent dirs",
        either(lambda r: None if r == "exit 0" else r, "--out"),
        cli(*AT, "--out", str(TMP / "no" / "such" / "parent")),
    )
    case("cli new --out, umask 027, rerun replaces", cli_ok(lambda r: r), new_out_run)

    def signal_run(sig, job=("reproduce", "dae", "--quick"), wait=12.0):
        def go():
            par = TMP / f"sig{int(sig)}"
            par.mkdir()
            d = par / "out"
            p = subprocess.Popen(
                [sys.executable, "-m", "flowrep", *job, "--out", str(d)],
                cwd=TMP,
                env=ENV,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                # a shell's background jobs inherit SIGINT ignored; a terminal's Ctrl-C is not
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            )
            t0 = time.time()
            while time.time() - t0 < wait and p.poll() is None:
                time.sleep(0.5)
                if any(par.iterdir()):  # work has started: something was created
                    time.sleep(2.0)
                    break
            if p.poll() is not None:
                return f"job ended (rc {p.returncode}) before the signal; cannot test"
            p.send_signal(sig)
            try:
                rc = p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                return "did not stop within 60 s of the signal"
            left = sorted(x.name for x in par.iterdir())
            if left:
                return f"left behind after {signal.Signals(sig).name}: {left}"
            if rc == 0:
                return f"exit 0 after {signal.Signals(sig).name}"
            return None

        return go

    for sg in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        case(
            f"cli {sg.name} mid-job leaves nothing", cli_ok(lambda r: r), signal_run(sg)
        )

    # ------------------------------------------------------------- analyze
    mods = TMP / "mods"
    mods.mkdir()
    (mods / "good.py").write_text(
        "import equinox as eqx, jax, jax.numpy as jnp\n"
        "def make():\n    k = jax.random.PRNGKey(0)\n"
        "    return eqx.nn.MLP(3, 2, 6, 2, key=k), jax.random.normal(k, (60, 3))\n"
        "def nan():\n    k = jax.random.PRNGKey(0)\n"
        "    return eqx.nn.MLP(3, 2, 6, 2, key=k), jnp.full((60, 3), jnp.nan)\n"
        "def one():\n    return 5\n"
        "def wrongdim():\n    k = jax.random.PRNGKey(0)\n"
        "    return eqx.nn.MLP(3, 2, 6, 2, key=k), jnp.ones((60, 4))\n"
        "def boom():\n    raise RuntimeError('user code failed')\n"
        "def empty():\n    k = jax.random.PRNGKey(0)\n"
        "    return eqx.nn.MLP(3, 2, 6, 2, key=k), jnp.ones((0, 3))\n"
        "VALUE = 3\n"
    )
    (mods / "syntax.py").write_text("def make(:\n")
    np.save(mods / "data.npy", np.ones((10, 3)))
    (mods / "corrupt.npy").write_bytes(b"\x93NUMPY garbage")
    (mods / "data.txt").write_text("1 2 3\n")
    G = str(mods / "good.py")
    A = ("analyze",)
    case(
        "cli analyze missing module",
        err("nomodule", "MODULE"),
        cli(*A, "nomodule_h14d:make", "--out", str(TMP / "a1")),
    )
    case(
        "cli analyze missing .py file",
        err("missing.py", "MODULE", "file"),
        cli(*A, str(mods / "missing.py") + ":make", "--out", str(TMP / "a2")),
    )
    case(
        "cli analyze no colon",
        err("MODULE:FUNCTION", "FUNCTION"),
        cli(*A, G, "--out", str(TMP / "a3")),
    )
    case(
        "cli analyze missing function",
        err("nofn", "FUNCTION"),
        cli(*A, G + ":nofn", "--out", str(TMP / "a4")),
    )
    case(
        "cli analyze not callable",
        err("VALUE", "callable"),
        cli(*A, G + ":VALUE", "--out", str(TMP / "a5")),
    )
    case(
        "cli analyze syntax error",
        err("syntax", "syntax.py"),
        cli(*A, str(mods / "syntax.py") + ":make", "--out", str(TMP / "a6")),
    )
    case(
        "cli analyze returns non-pair",
        err("make", "one", "(model, samples)", "pair"),
        cli(*A, G + ":one", "--out", str(TMP / "a7")),
    )
    case(
        "cli analyze user code raises",
        err("boom", "user code failed"),
        cli(*A, G + ":boom", "--out", str(TMP / "a8")),
    )
    case(
        "cli analyze NaN samples",
        err("NaN", "samples", "x"),
        cli(*A, G + ":nan", "--out", str(TMP / "a9")),
    )
    case(
        "cli analyze empty samples",
        err("samples", "x", "empty"),
        cli(*A, G + ":empty", "--out", str(TMP / "a9b")),
    )
    case(
        "cli analyze wrong input dim",
        err("samples", "model", "x"),
        cli(*A, G + ":wrongdim", "--out", str(TMP / "a10")),
    )
    case(
        "cli analyze --data missing",
        err("--data"),
        cli(
            *A, G + ":make", "--data", str(mods / "nope.npy"), "--out", str(TMP / "a11")
        ),
    )
    case(
        "cli analyze --data corrupt",
        err("--data"),
        cli(
            *A,
            G + ":make",
            "--data",
            str(mods / "corrupt.npy"),
            "--out",
            str(TMP / "a12"),
        ),
    )
    case(
        "cli analyze --data .txt",
        err("--data"),
        cli(
            *A, G + ":make", "--data", str(mods / "data.txt"), "--out", str(TMP / "a13")
        ),
    )
    case(
        "cli analyze --data a directory",
        err("--data"),
        cli(*A, G + ":make", "--data", str(mods), "--out", str(TMP / "a13b")),
    )
    for opt, vals in (
        ("--max-samples", ("0", "-5", "abc", "2.5", "1")),
        ("--project", ("0", "-1", "x")),
        ("--gw-samples", ("0", "abc", "1")),
        ("--devices", ("0", "-2", "abc", "100000")),
        ("--seed", ("-1", "x")),
    ):
        for v in vals:
            case(
                f"cli analyze {opt} {v}",
                err(opt),
                cli(*A, G + ":make", opt, v, "--out", str(TMP / f"b{opt}{v}")),
            )
    case(
        "cli analyze valid",
        cli_ok(lambda r: None if r == "exit 0" else r),
        cli(
            *A,
            G + ":make",
            "--max-samples",
            "40",
            "--gw-samples",
            "16",
            "--out",
            str(TMP / "a_ok"),
        ),
    )
    case("cli bench --devices abc", err("--devices"), cli("bench", "--devices", "abc"))
    case("cli bench --devices 0", err("--devices"), cli("bench", "--devices", "0"))
    case("cli bench --mesh bogus", err("--mesh"), cli("bench", "--mesh", "bogus"))
    case(
        "cli demo --seed -1",
        err("--seed"),
        cli("demo", "--seed", "-1", "--out", str(TMP / "d1")),
    )
    case("cli demo --out /", err("--out"), cli("demo", "--out", "/"))
else:
    pass


# ===================================================================== runner


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


USER_FACING = (
    TypeError,
    ValueError,
    FloatingPointError,
    MemoryError,
    OverflowError,
    OSError,
    NotImplementedError,
    RuntimeError,
    LookupError,
)
INTERNAL = (
    AssertionError,
    IndexError,
    KeyError,
    AttributeError,
    ZeroDivisionError,
    NameError,
    UnboundLocalError,
    RecursionError,
)


def _brief(e):
    lines = [ln for ln in str(e).strip().splitlines() if ln.strip()]
    return (lines[0] if lines else "")[:220]


def judge(expect, fn, timeout):
    kind, arg = expect
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        out = fn()
        if not isinstance(out, str):
            out = jax.block_until_ready(out)
    except Hang:
        return "hang", f"no answer in {timeout} s"
    except Exception as e:  # noqa: BLE001
        signal.alarm(0)
        name = type(e).__name__
        msg = f"{name}: {e}"
        if kind == "ok":
            return "crash", f"{name}: {_brief(e)}"
        internal = (
            isinstance(e, INTERNAL)
            or "Tracer" in name
            or "Concretization" in name
            or (
                not isinstance(e, USER_FACING + (eqx.EquinoxRuntimeError,))
                and "Xla" not in name
                and "Jax" not in name
            )
        )
        if internal:
            return "crash", f"{name}: {_brief(e)}"
        names = arg if kind == "err" else arg[1]
        if not any(n.lower() in msg.lower() for n in names):
            return "unnamed", f"{name}: {_brief(e)}"
        if "pure_callback" in msg and len(msg) > 1500:
            return (
                None,
                f"{name} (named, inside jax.jit's {len(msg)}-char callback trace)",
            )
        return None, f"{name}: {_brief(e)}"
    finally:
        signal.alarm(0)
    if kind == "err":
        bad = None if isinstance(out, str) else finite(out)
        return (
            "silent",
            f"returned {'non-finite output ' + bad if bad else repr(out)[:80] if isinstance(out, str) else 'a finite value'} instead of an error",
        )
    check = arg if kind == "ok" else arg[0]
    problem = check(out)
    return (None, "ok") if problem is None else ("silent", str(problem)[:300])


def worker(a) -> int:
    keys = a.k.split("|")
    calls = [c for c in CALLS if any(k in c[0] for k in keys)]
    # the CLI worker runs only CLI calls; the JAX workers skip them
    fails = 0
    t0 = time.time()
    for i, (name, expect, fn) in enumerate(calls):
        if (MODE == "cli") != name.startswith("cli"):
            continue
        try:
            kind, why = judge(
                expect, fn, a.timeout if MODE != "cli" else max(a.timeout, 300)
            )
        except Exception:  # noqa: BLE001  (the harness itself failed)
            kind, why = "crash", "harness: " + traceback.format_exc().splitlines()[-1]
        why = why.replace("\t", " ").replace("\n", " ")
        if kind:
            fails += 1
            print(f"FAIL\t{kind}\t{name}\t{why}", flush=True)
        elif a.v:
            print(f"ok\t{name}\t{why}", flush=True)
    n = sum((MODE == "cli") == c[0].startswith("cli") for c in calls)
    print(f"TALLY {n} {fails} {time.time() - t0:.0f}", flush=True)
    return 0


if __name__ == "__main__" and ARGS is not None:
    sys.exit(worker(ARGS))
