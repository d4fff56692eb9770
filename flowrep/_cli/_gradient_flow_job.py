"""`flowrep reproduce gradient-flow`: the three aspects of the deep DAE side by side.

Sonoda & Murata analyse a flow "in three aspects: dynamical system,
continuity equation, and Wasserstein gradient flow". On a 2-D Gaussian law
this job computes all three for the deep DAE $\\dot x=\\nabla\\log\\mu_t$
(docs/theory/gradient-flows.md): the particle paths, the entropy by the
continuity equation against its closed form, and the gradient-flow reading
(the field is a gradient: curl fraction 0; the heat flow, continuous and
JKO, reverses it; $dH/dt=\\mp$ Fisher information; JKO is first order in
$\\tau$). Verdicts follow the rules stated in `gradient_flow_verdicts`.
"""

import time
from typing import Any

import jax.numpy as jnp
import jax.random as jr
import numpy as np

from ._common import has_matplotlib, loglog_slope, subplots, x64
from ._report import Report


SECTION = "Three aspects: the deep DAE as a Wasserstein gradient flow"


def _cov(x) -> np.ndarray:
    x = np.asarray(x)
    m = x.mean(0)
    return (x - m).T @ (x - m) / x.shape[0]


def gradient_flow_verdicts(r: dict[str, Any]) -> dict[str, Any]:
    """Checked claims, each by a stated rule.

    - `continuity_agrees`: the continuity-equation entropy is within 4
      standard errors of the closed form at every time;
    - `dae_is_gradient`: the deep-DAE field's curl fraction is < 1e-12 at every time;
    - `reversal_recovers`: the heat flow's (continuous and JKO) covariance
      returns to the data's within 4 sampling standard errors times
      $2t/\\lambda_{\\min}$ (plus $2t\\tau/\\lambda_{\\min}$ for JKO);
    - `entropy_rate_is_fisher`: $H(t)-H(0)$ matches $\\mp\\int I$ within 1%;
    - `jko_first_order`: the log-log slope of the JKO error in $\\tau$ is in [0.8, 1.2].
    """
    out = dict(
        continuity_agrees=bool(r["continuity_max_z"] < 4.0),
        dae_is_gradient=bool(max(r["curl_fraction_dae"]) < 1e-12),
        reversal_recovers=bool(
            r["heat_cov_error"] <= r["reversal_tolerance"]
            and r["jko_cov_error"] <= r["reversal_tolerance_jko"]
        ),
        entropy_rate_is_fisher=bool(
            r["dae_rate_rel_error"] < 0.01 and r["heat_rate_rel_error"] < 0.01
        ),
        jko_first_order=bool(0.8 <= r["jko_order"] <= 1.2),
    )
    out["reproduced"] = all(out.values())
    return out


def _simpson(y, x):
    y, x = np.asarray(y), np.asarray(x)
    h = x[1] - x[0]
    return float(h / 3 * (y[0] + 4 * y[1:-1:2].sum() + 2 * y[2:-1:2].sum() + y[-1]))


@x64
def gradient_flow_job(report: Report, *, quick: bool, seed: int) -> dict[str, Any]:
    """The three aspects of the deep DAE on $N(m,\\Sigma)$ (docs/theory/gradient-flows.md#entropy-dissipation)."""
    import flowrep as fr

    t_start = time.perf_counter()
    key = jr.PRNGKey(seed)
    law = fr.GaussianLaw(jnp.array([1.0, -1.0]), jnp.array([[2.0, 0.4], [0.4, 1.0]]))
    lam = np.linalg.eigvalsh(np.asarray(law.cov))
    t = 0.3
    n = 600 if quick else 4000
    num_times = 9
    jko_steps = 6 if quick else 12
    k1, k2, k3 = jr.split(key, 3)
    # 1. dynamical system, 2. continuity equation
    x0 = law.sample(n, key=k1)
    ts = jnp.linspace(0.0, t, num_times)
    fwd = fr.deep_dae_flow(law, x0, t, ts=ts, log_density="exact", rtol=1e-8, atol=1e-8)
    logp = fwd.log_densities(jax_vmap_log_prob(law, x0))
    h_cont = -np.asarray(logp).mean(1)
    h_se = np.asarray(logp).std(1) / np.sqrt(n)
    h_closed = np.array([float(law.backward_heat(float(s)).entropy()) for s in ts])
    # 3. gradient flow: curl fraction, the reversal, the entropy rates
    dae_field = fr.DeepDAEField(law)
    curl = [float(fr.curl_fraction(dae_field, x, t=s)) for s, x in zip(ts, fwd.tracks)]
    rev = fr.dae_reversal(
        law, t, key=k2, num_samples=n, num_times=num_times, jko_steps=jko_steps
    )
    S0 = _cov(rev.x0)
    sampling = 4 * lam.max() * np.sqrt(2 / n)
    tol = sampling * 2 * t / lam.min()
    tau = t / jko_steps
    fisher_law = np.sum(1 / (lam[None] - 2 * np.asarray(ts)[:, None]), -1)
    dae_drop = float(rev.dae_entropy[-1] - rev.dae_entropy[0])
    heat_rise = float(rev.heat_entropy[-1] - rev.heat_entropy[0])
    # JKO against the continuous Ornstein-Uhlenbeck flow, over tau
    ou = fr.kl_energy(lambda y: 0.5 * y @ y, estimator="gaussian")
    xo = law.sample(200, key=k3)
    T = 0.4
    So = _cov(xo)
    exact = np.exp(-2 * T) * So + (1 - np.exp(-2 * T)) * np.eye(2)
    taus = [0.1, 0.05] if quick else [0.1, 0.05, 0.025, 0.0125]
    jko_err = []
    for tk in taus:
        res = fr.jko(ou, xo, tk, int(round(T / tk)), inner_steps=20)
        jko_err.append(float(np.max(np.abs(_cov(res.xs) - exact))))
    r = dict(
        t=t,
        num_samples=n,
        times=np.asarray(ts).tolist(),
        entropy_closed_form=h_closed.tolist(),
        entropy_continuity=h_cont.tolist(),
        continuity_max_z=float(
            np.max(np.abs(h_cont - h_closed) / np.maximum(h_se, 1e-300))
        ),
        curl_fraction_dae=curl,
        heat_cov_error=float(np.max(np.abs(_cov(rev.x_heat) - S0))),
        jko_cov_error=float(np.max(np.abs(_cov(rev.x_jko) - S0))),
        reversal_tolerance=float(tol),
        reversal_tolerance_jko=float(tol + 2 * t * tau / lam.min()),
        dae_entropy=np.asarray(rev.dae_entropy).tolist(),
        heat_entropy=np.asarray(rev.heat_entropy).tolist(),
        dae_rate_rel_error=abs(dae_drop + _simpson(fisher_law, ts)) / abs(dae_drop),
        heat_rate_rel_error=abs(heat_rise - _simpson(rev.heat_fisher, ts))
        / abs(heat_rise),
        jko_taus=taus,
        jko_errors=jko_err,
        jko_order=loglog_slope(taus, jko_err),
    )
    checks = gradient_flow_verdicts(r)
    plots = []
    if has_matplotlib():
        fig, ax = subplots(1, 3, figsize=(13, 4))
        for x, lab in (
            (rev.x0, "x0 ~ mu_0"),
            (rev.xt, "deep DAE, mu_t"),
            (rev.x_heat, "heat flow back"),
        ):
            xa = np.asarray(x)[:400]
            ax[0].scatter(xa[:, 0], xa[:, 1], s=3, label=lab)
        ax[0].legend()
        ax[0].set_title("dynamical system: there and back")
        tsn = np.asarray(ts)
        ax[1].plot(tsn, h_closed, "k-", label="closed form")
        ax[1].plot(tsn, h_cont, "o", label="continuity equation")
        ax[1].plot(
            t - tsn,
            np.asarray(rev.heat_entropy),
            "x",
            label="heat flow (time reversed)",
        )
        ax[1].set_xlabel("t")
        ax[1].set_title("entropy H[mu_t]")
        ax[1].legend()
        ax[2].loglog(taus, jko_err, "o-")
        ax[2].set_xlabel("tau")
        ax[2].set_title(f"JKO error (OU), order {r['jko_order']:.2f}")
        report.figure(
            fig,
            "gradient_flow.png",
            "The deep DAE and its reversal; entropy three ways; JKO convergence.",
        )
        plots.append("gradient_flow.png")
    report.section(
        SECTION,
        f"Deep DAE on N(m, Sigma), t = {t}, n = {n}. Continuity-equation entropy vs closed form: max z = "
        f"{r['continuity_max_z']:.2f}. Curl fraction of grad log mu_t: max {max(curl):.1e}. Heat flow back: "
        f"covariance error {r['heat_cov_error']:.4f} (continuous), {r['jko_cov_error']:.4f} (JKO, tau = {tau:.3g}); "
        f"tolerance {tol:.4f}. H(t) - H(0) vs -int Fisher: rel. error {r['dae_rate_rel_error']:.1e} (DAE), "
        f"{r['heat_rate_rel_error']:.1e} (heat). JKO order in tau: {r['jko_order']:.2f}.",
    )
    return dict(
        claim="the deep DAE is the Wasserstein gradient flow of H, the time reversal of the heat flow",
        **r,
        **checks,
        figures=plots,
        seconds=time.perf_counter() - t_start,
    )


def jax_vmap_log_prob(law, x):
    import jax

    return jax.vmap(law.log_prob)(x)
