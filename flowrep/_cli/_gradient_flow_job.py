"""`flowrep reproduce gradient-flow`: the three aspects of the deep DAE side by side.

Sonoda & Murata analyse a flow "in three aspects: dynamical system,
continuity equation, and Wasserstein gradient flow". On a 2-D Gaussian law
this job computes all three for the deep DAE $\\dot x=\\nabla\\log\\mu_t$
(docs/theory/gradient-flows.md): the particle paths, the entropy by the
continuity equation against its closed form, and the gradient-flow reading
(the field is a gradient: curl fraction 0; the heat flow, continuous and
JKO, reverses it; $dH/dt=\\mp$ Fisher information; JKO is first order in
$\\tau$). Full mode adds the reversal of a 2-D Gaussian mixture by densities
(`mixture_reversal`). Verdicts follow the rules stated in `gradient_flow_verdicts`.
"""

import time
from typing import Any

import jax.numpy as jnp
import jax.random as jr
import numpy as np

from ._claims import verdict_of
from ._common import has_matplotlib, loglog_slope, subplots, verdict_line, x64
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


def trained_curl_verdicts(r: dict[str, Any]) -> dict[str, Any]:
    """The Benamou-Brenier reading of Gai & Zhang's claim, by stated rules.

    Weight decay (and the kinetic penalty) should drive a trained flow to the
    Wasserstein geodesic, whose velocity is a gradient (Benamou & Brenier
    2000); so regularised training should give a smaller curl fraction.

    - `gradient_flag_is_gradient`: `fit(gradient=True)`'s field has curl
      fraction < 1e-12 (the control);
    - `ridgelet_regularised_less_curl`: a RidgeletField trained with weight
      decay and the kinetic penalty has a smaller mean curl fraction than one
      trained without either;
    - `resnet_weight_decay_less_curl`: the same for flowrep's `ResNet` with
      weight decay (and the discrete kinetic penalty) against without.
    """
    rf, rn = r["ridgelet"], r["resnet"]
    return dict(
        gradient_flag_is_gradient=bool(rf["gradient_flag"]["curl_fraction"] < 1e-12),
        ridgelet_regularised_less_curl=bool(
            rf["weight_decay+kinetic"]["curl_fraction"] < rf["plain"]["curl_fraction"]
        ),
        resnet_weight_decay_less_curl=bool(
            rn["weight_decay+kinetic"]["curl_fraction"] < rn["plain"]["curl_fraction"]
        ),
    )


def _train_resnet(net, x, y, *, steps, weight_decay, kinetic_reg, key):
    """Adam(W) on the Sinkhorn loss of the ResNet's output, plus the discrete kinetic energy."""
    import equinox as eqx
    import jax
    import optax

    import flowrep as fr

    h = (net.t1 - net.t0) / net.depth
    opt = optax.adamw(1e-2, weight_decay=weight_decay)
    params, static = eqx.partition(net, eqx.is_inexact_array)
    state = opt.init(params)

    def loss(p):
        model = eqx.combine(p, static)
        tr = jax.vmap(model.tracks)(x)
        kin = jnp.mean(jnp.sum(jnp.diff(tr, axis=1) ** 2, axis=(1, 2))) / h
        return fr.sinkhorn_loss(tr[:, -1], y, 0.05) + kinetic_reg * kin

    @eqx.filter_jit
    def step(p, state):
        g = eqx.filter_grad(loss)(p)
        upd, state = opt.update(g, state, p)
        return eqx.apply_updates(p, upd), state

    del key
    for _ in range(steps):
        params, state = step(params, state)
    return eqx.combine(params, static)


def trained_curl(*, quick: bool, seed: int) -> dict[str, Any]:
    """Curl and non-gradient fractions of trained RidgeletFields and ResNets.

    The task: push $N(0,I_2)$ onto $N(m,\\mathrm{diag}(2,0.5))$ rotated by 60
    degrees; its optimal velocity is a gradient, but a flow that also rotates
    the cloud fits the data as well. Fractions are means over times along the
    trained flow, at the flowed samples (docs/theory/gradient-flows.md#curl-fraction).
    """
    import jax

    import flowrep as fr

    n, steps = (128, 30) if quick else (256, 150)
    key = jr.PRNGKey(seed + 100)
    kx, ky, kf, kn, kr, kh = jr.split(key, 6)
    x = jr.normal(kx, (n, 2))
    c, s = np.cos(np.pi / 3), np.sin(np.pi / 3)
    R = jnp.array([[c, -s], [s, c]])
    y = (jr.normal(ky, (n, 2)) * jnp.array([np.sqrt(2.0), np.sqrt(0.5)])) @ R.T + 1.0
    times = np.linspace(0.0, 1.0, 5)[:-1] + 0.125
    out: dict[str, Any] = dict(num_samples=n, steps=steps, ridgelet={}, resnet={})
    base = fr.RidgeletField.random(
        kf, 2, 32, basis="piecewise_constant", num_knots=4, output_scale=0.5
    )
    configs: dict[str, dict[str, Any]] = {
        "plain": dict(),
        "weight_decay": dict(weight_decay=1e-2),
        "weight_decay+kinetic": dict(weight_decay=1e-2, kinetic_reg=0.1),
        "gradient_flag": dict(gradient=True),
    }
    fkw: dict[str, Any] = dict(solver="rk4", num_steps=8)
    for name, cfg in configs.items():
        f, hist = fr.fit(
            base, x, y, key=kr, steps=steps, learning_rate=1e-2,
            flow_kwargs=fkw, progress=False, **cfg,
        )  # fmt: skip
        tr = fr.flow(f, x, 0.0, 1.0, ts=jnp.asarray(times), **fkw).tracks
        curl = [
            float(fr.curl_fraction(f, tr[i], t=float(t))) for i, t in enumerate(times)
        ]
        ngf = [
            float(fr.non_gradient_fraction(f, tr[i], t=float(t), key=kh).fraction)
            for i, t in enumerate(times)
        ]
        out["ridgelet"][name] = dict(
            curl_fraction=float(np.mean(curl)),
            non_gradient_fraction=float(np.mean(ngf)),
            final_loss=float(hist["data"][-1]),
        )
    net0 = fr.ResNet.random(kn, 2, 32, 4, "tanh", scale=0.5)
    for name, (wd, kin) in {
        "plain": (0.0, 0.0),
        "weight_decay": (1e-2, 0.0),
        "weight_decay+kinetic": (1e-2, 0.1),
    }.items():
        net = _train_resnet(
            net0, x, y, steps=steps, weight_decay=wd, kinetic_reg=kin, key=kr
        )
        tr = jax.vmap(net.tracks)(x)
        curl, ngf = [], []
        for blk in range(net.depth):
            block = net.block(blk)
            v = lambda t, z, a, block=block: block(z)  # noqa: E731  (h v_t at block blk)
            curl.append(float(fr.curl_fraction(v, tr[:, blk])))
            ngf.append(float(fr.non_gradient_fraction(v, tr[:, blk], key=kh).fraction))
        out["resnet"][name] = dict(
            curl_fraction=float(np.mean(curl)),
            non_gradient_fraction=float(np.mean(ngf)),
            final_loss=float(fr.sinkhorn_loss(tr[:, -1], y, 0.05)),
        )
    out["verdicts"] = trained_curl_verdicts(out)
    return out


def mixture_reversal(*, seed: int) -> dict[str, Any]:
    """The reversal by densities on a 2-component 2-D mixture (full mode only: about a minute).

    The deep DAE to $t=0.2$ ($t^*=0.238$), then the particles-only heat flow
    (blob score) back, continuous and JKO, $n=500$ (`dae_reversal`,
    docs/theory/gradient-flows.md#dae-reversal). Verdict `recovers`: the mean
    $\\log\\mu_0$ of both recovered clouds within 3 standard errors of the
    original samples' and their $W_2$ to fresh $\\mu_0$ samples below 1.2
    times the two-sample floor; `entropy_rate_is_fisher`: the DAE particles'
    entropy change within 2% of $-\\int I(\\mu_s)$ (quadrature).
    """
    import flowrep as fr

    law = fr.GaussianMixture(
        jnp.array([0.4, 0.6]),
        jnp.array([[-1.5, 0.0], [1.5, 0.5]]),
        jnp.array([[[0.8, 0.2], [0.2, 0.6]], [[0.7, -0.1], [-0.1, 1.0]]]),
    )
    t, n = 0.2, 500
    k1, k2 = jr.split(jr.PRNGKey(seed + 17))
    rev = fr.dae_reversal(
        law, t, key=k1, num_samples=n, num_times=9, jko_steps=5, rtol=1e-6, atol=1e-6
    )
    sc = fr.reversal_scores(rev, law, key=k2)
    ts = np.asarray(rev.ts)
    dh = np.asarray(rev.dae_entropy)
    drop = float(dh[-1] - dh[0])
    fisher_int = _simpson(np.asarray(rev.law_fisher), ts)
    out: dict[str, Any] = dict(
        t=t,
        num_samples=n,
        collapse_time=float(law.collapse_time),
        estimator=rev.estimator,
        **sc,
        dae_entropy_drop=drop,
        law_entropy_drop=float(rev.law_entropy[-1] - rev.law_entropy[0]),
        heat_entropy_rise=float(rev.heat_entropy[-1] - rev.heat_entropy[0]),
        dae_rate_rel_error=abs(drop + fisher_int) / abs(drop),
    )
    out["recovers"] = bool(
        all(
            abs(sc[k] - sc["logp_x0"]) < 3 * sc["logp_se"]
            for k in ("logp_heat", "logp_jko")
        )
        and all(sc[k] < 1.2 * sc["w2_floor"] for k in ("w2_heat", "w2_jko"))
    )
    out["entropy_rate_is_fisher"] = bool(out["dae_rate_rel_error"] < 0.02)
    out["reproduced"] = out["recovers"] and out["entropy_rate_is_fisher"]
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
    # Seven trainings and their compilations: minutes on 2 cores, so not in --quick.
    trained = None if quick else trained_curl(quick=False, seed=seed)
    mixture = None if quick else mixture_reversal(seed=seed)
    plots = []
    if has_matplotlib():
        fig, ax = subplots(1, 3, figsize=(13, 4.4))
        for x, lab in (
            (rev.x0, "x0 ~ mu_0"),
            (rev.xt, "deep DAE, mu_t"),
            (rev.x_heat, "heat flow back"),
        ):
            xa = np.asarray(x)[:400]
            ax[0].scatter(xa[:, 0], xa[:, 1], s=3, label=lab)
        ax[0].set_xlabel("$x_1$ (data units)")
        ax[0].set_ylabel("$x_2$ (data units)")
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
        ax[1].set_xlabel("time t")
        ax[1].set_ylabel("entropy H[mu_t] (nats)")
        ax[1].set_title("entropy H[mu_t]")
        ax[2].loglog(taus, jko_err, "o-", label="JKO (OU)")
        ax[2].loglog(
            taus,
            jko_err[-1] * np.asarray(taus, float) / taus[-1],
            "k:",
            lw=1,
            label="O(tau)",
        )
        # label the steps used, not the crowded minor ticks of a short log axis
        from matplotlib.ticker import NullFormatter

        ax[2].set_xticks(taus, [f"{tk:g}" for tk in taus])
        ax[2].xaxis.set_minor_formatter(NullFormatter())
        ax[2].set_xlabel("JKO step tau (time units)")
        ax[2].set_ylabel("max |Cov - exact| (data units²)")
        ax[2].set_title(f"JKO error (OU), order {r['jko_order']:.2f}")
        for a in ax:
            a.legend(
                loc="upper center",
                bbox_to_anchor=(0.5, -0.16),
                fontsize=8,
                ncol=2,
                frameon=False,
            )
        names = {
            "continuity_agrees": "continuity entropy agrees",
            "dae_is_gradient": "DAE field is a gradient",
            "reversal_recovers": "heat flow recovers mu_0",
            "entropy_rate_is_fisher": "dH/dt = -Fisher",
            "jko_first_order": "JKO first order",
        }
        verdict, part = verdict_of({names[k]: bool(checks[k]) for k in names})
        report.figure(
            fig,
            "gradient_flow.png",
            "Left: samples of mu_0, of the deep DAE's mu_t and of the heat flow started there (colours: "
            "legend); look for the heat-flow samples back on mu_0. Middle: entropy along the flow, three "
            "ways; look for the markers on the closed-form line. Right: JKO error against its step tau; "
            "look for a slope parallel to the dotted O(tau) line.",
            verdict=verdict_line(verdict, part),
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
    if trained is not None:
        _trained_section(report, trained)
    if mixture is not None:
        m = mixture
        report.section(
            "Mixture reversal by densities",
            f"2-component 2-D mixture, t = {m['t']} (t* = {m['collapse_time']:.3f}), n = {m['num_samples']}, "
            f"heat flow by the particles' blob score. Mean log mu_0: originals {m['logp_x0']:.3f} +- {m['logp_se']:.3f}, "
            f"heat flow {m['logp_heat']:.3f}, JKO {m['logp_jko']:.3f}. W2 to fresh mu_0 samples: heat {m['w2_heat']:.3f}, "
            f"JKO {m['w2_jko']:.3f}, floor {m['w2_floor']:.3f}, mu_t {m['w2_xt']:.3f}. DAE entropy change "
            f"{m['dae_entropy_drop']:.4f} vs quadrature {m['law_entropy_drop']:.4f}; heat rise {m['heat_entropy_rise']:.4f}. "
            f"Verdict: {'reproduced' if m['reproduced'] else 'NOT reproduced'}.",
        )
    return dict(
        claim="the deep DAE is the Wasserstein gradient flow of H, the time reversal of the heat flow",
        **r,
        **checks,
        trained_networks=trained,
        mixture_reversal=mixture,
        figures=plots,
        seconds=time.perf_counter() - t_start,
    )


def _trained_section(report: Report, trained: dict[str, Any]) -> None:
    rows = [
        f"{kind} {name}: curl fraction {v['curl_fraction']:.3g}, non-gradient fraction "
        f"{v['non_gradient_fraction']:.3g}, final Sinkhorn loss {v['final_loss']:.3g}"
        for kind in ("ridgelet", "resnet")
        for name, v in trained[kind].items()
    ]
    tv = trained["verdicts"]
    report.section(
        "Are trained flows gradient flows? (Benamou-Brenier reading of Gai & Zhang)",
        "; ".join(rows)
        + f". Verdicts: gradient flag is a gradient: {tv['gradient_flag_is_gradient']}; "
        f"RidgeletField with weight decay + kinetic penalty has less curl: {tv['ridgelet_regularised_less_curl']}; "
        f"ResNet with weight decay + kinetic penalty has less curl: {tv['resnet_weight_decay_less_curl']}.",
    )


def jax_vmap_log_prob(law, x):
    import jax

    return jax.vmap(law.log_prob)(x)
