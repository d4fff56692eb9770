"""Write the flowrep notebooks with nbformat and (by default) execute them with nbclient.

The notebooks are generated from the cell sources below, so they are easy to
regenerate after an API change:

    python notebooks/_build.py                 # write, execute and save all five
    python notebooks/_build.py 02 04           # only those
    python notebooks/_build.py --no-execute    # write without outputs

Execution runs on the CPU (`JAX_PLATFORMS=cpu`) in the `python3` kernel and
records no timing metadata, so re-running gives small diffs. Each notebook's
wall time is printed.
"""

import argparse
import os
import pathlib
import subprocess
import sys
import textwrap
import time


HERE = pathlib.Path(__file__).resolve().parent

Cell = tuple[str, str]  # ("md" | "code", source)


def md(text: str) -> Cell:
    return ("md", textwrap.dedent(text).strip("\n"))


def code(text: str) -> Cell:
    return ("code", textwrap.dedent(text).strip("\n"))


COLAB_MD = md(
    """
    **Running on Colab?** flowrep is not on the package index under its own
    name (the `flowrep` there is an unrelated project; this one's
    distribution is `flowrep-transport`). Set `FLOWREP_SOURCE` in the first
    cell to where you get it from: a git URL you can reach
    (`"git+https://<host>/<you>/flowrep.git"`) or a wheel you built with
    `python -m build` and uploaded to the Colab session
    (`"/content/flowrep_transport-0.1.0-py3-none-any.whl"`). Left empty, the
    cell stops with a message saying so. Anywhere but Colab the cell does
    nothing; nothing else in this notebook downloads anything.
    """
)

COLAB_CELL = code(
    """
    # On Google Colab, install flowrep from the source named here; a no-op anywhere else.
    import importlib.util
    import subprocess
    import sys


    # Where to install from: a git URL ("git+https://...") or an uploaded wheel ("/content/....whl").
    FLOWREP_SOURCE = ""

    if "google.colab" in sys.modules and importlib.util.find_spec("flowrep") is None:
        if not FLOWREP_SOURCE:
            raise RuntimeError(
                "flowrep is not installed: set FLOWREP_SOURCE above to a git URL "
                "('git+https://<host>/<you>/flowrep.git') or to the path of a wheel "
                "built with `python -m build` and uploaded to this session. "
                "(`pip install flowrep` installs an unrelated project.)"
            )
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", FLOWREP_SOURCE, "matplotlib"],
            check=True,
        )
    """
)


def imports(
    *extra: str, stdlib: tuple[str, ...] = (), x64: bool = True, setup: str = ""
) -> Cell:
    """The setup cell: imports (plus `extra` third-party and `stdlib` lines), float64 or not, figure size, a helper."""

    def block(lines):
        return "\n".join(sorted(lines, key=lambda line: line.split()[1].lower()))

    std = block(["import time", *stdlib])
    lines = block(
        [
            "import jax",
            "import jax.numpy as jnp",
            "import jax.random as jr",
            "import matplotlib.pyplot as plt",
            "import numpy as np",
            *extra,
        ]
    )
    precision = (
        '# float64, so that convergence rates stay visible below 1e-6\njax.config.update("jax_enable_x64", True)\n'
        if x64
        else "# float32 (JAX's default) is enough here: every score is an O(1) ratio\n"
    )
    return (
        "code",
        std
        + "\n\n"
        + lines
        + "\n\nimport flowrep as fr\n\n\n"
        + precision
        + setup
        + textwrap.dedent(
            """
            plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80, "font.size": 9})


            def loglog_slope(x, y):
                \"\"\"Least-squares slope of log y against log x (a convergence order).\"\"\"
                return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])
            """
        ).rstrip("\n"),
    )


IMPORTS = imports()


def _run_cell(extra: str = "") -> Cell:
    return code(
        f"""
        results = main(){extra}
        """
    )


# --------------------------------------------------------------------------- 01

NB01: list[Cell] = [
    COLAB_CELL,
    md(
        r"""
        # 01 · The ridgelet transform: a network of infinite width

        A one-hidden-layer network $\sum_j c_j\sigma(a_j\cdot x-b_j)$ is the
        *integral representation* $S[\gamma](x)=\int\gamma(a,b)\,\sigma(a\cdot x-b)\,da\,db$
        of the empirical measure $\gamma=\sum_jc_j\delta_{(a_j,b_j)}$. The
        *ridgelet transform* $R[f;\rho](a,b)=\int f(x)\rho(a\cdot x-b)\,dx$ inverts
        it up to a constant: $S[R[f;\rho]]=\langle\!\langle\sigma,\rho\rangle\!\rangle f$
        (Sonoda & Murata, ACHA 2017, Thm 5.6; Sonoda, Ishikawa & Ikeda, *Ghosts in
        neural networks*, Thm 6; docs/theory/ridgelets.md#admissibility). So $\gamma_f=R[f;\rho]/\langle\!\langle\sigma,\rho\rangle\!\rangle$
        is a parameter distribution of a network that computes $f$, *if* the
        pair $(\sigma,\rho)$ is admissible.

        This notebook computes, step by step:

        1. activations $\sigma$ and ridgelet profiles $\rho$;
        2. the admissibility pairing, and ACHA's Table 5 computed next to the published pattern;
        3. the transform and the reconstruction of $\sin2\pi x$ (ACHA §7), with the error against the size of the $(a,b)$ grid;
        4. a *ghost*: tanh with $G''$, whose pairing vanishes, so $S[R f]\approx0$;
        5. finite networks drawn from $|\gamma|$ ("oracle sampling") converging as the width $J$ grows.

        Everything runs in `main(**defaults)` at the end; `main(quick=False)` uses larger grids.
        """
    ),
    COLAB_MD,
    IMPORTS,
    md(
        r"""
        ## 1 · Activations and ridgelet profiles

        flowrep's activations know their values, their 1-D Fourier transform away
        from $\omega=0$ (`.fourier`), their parity and growth. Ridgelet profiles
        are the Gaussian derivatives $G^{(k)}$, with $\rho^\sharp(\omega)=(i\omega)^k\sqrt{2\pi}e^{-\omega^2/2}$,
        and ACHA's $\Lambda^mG^{(l)}$ (Fourier multiplier $|\omega|^m$, the
        backprojection filter). A ridgelet must vanish fast enough at
        $\omega=0$ to balance the singularity of $\sigma^\sharp$ there (ReLU:
        $\sigma^\sharp=-1/\omega^2$).
        """
    ),
    code(
        """
        def plot_profiles():
            z = jnp.linspace(-4.0, 4.0, 401)
            activations = [fr.ReLU(), fr.Tanh(), fr.Sigmoid(), fr.Softplus(), fr.Step(), fr.Gaussian()]
            gauss = [fr.GaussianDerivative(k) for k in range(5)]
            lam = [fr.LambdaGaussian(1, order) for order in range(3)]
            fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
            for sigma in activations:
                axes[0].plot(z, sigma(z), label=sigma.name)
            axes[0].set_ylim(-1.5, 3)
            axes[0].set_title("activations $\\\\sigma$")
            for ax, family in ((axes[1], gauss), (axes[2], lam)):
                for rho in family:
                    values = rho(z)
                    ax.plot(z, values / jnp.max(jnp.abs(values)), label=rho.name)
            axes[1].set_title("$G^{(k)}$ (scaled to max 1)")
            axes[2].set_title("$\\\\Lambda^1G^{(l)}$ (scaled to max 1)")
            for ax in axes:
                ax.legend(fontsize=7)
                ax.set_xlabel("z")
            fig.tight_layout()
            return fig
        """
    ),
    md(
        r"""
        ## 2 · Admissibility and ACHA's Table 5

        $\langle\!\langle\sigma,\rho\rangle\!\rangle=(2\pi)^{m-1}\int\sigma^\sharp(\omega)\overline{\rho^\sharp(\omega)}|\omega|^{-m}d\omega$
        (docs/theory/ridgelets.md#gaussian-derivative-ridgelets). `fr.admissibility` returns a closed form where one is
        known (ReLU against $G^{(4)}$ in $m=1$: $-2\sqrt{2\pi}$) and otherwise
        integrates numerically, detecting a pairing that *vanishes* (an odd
        integrand: tanh is odd, $G^{(2)}$ even) or *diverges* (ReLU against
        $G^{(2)}$: $|\omega|^{-1}$ at 0). Both raise `NotAdmissibleError` with
        the reason. `fr.admissibility_table(m)` computes ACHA Table 5 (rows
        $\sigma$, columns $\Lambda^mG,\Lambda^mG',\Lambda^mG''$); each cell
        shows the computed status (and value), with ACHA's published entry in
        brackets.
        """
    ),
    code(
        """
        def admissibility_step(dim=1):
            pairs = [
                (fr.ReLU(), fr.GaussianDerivative(4)),
                (fr.Tanh(), fr.GaussianDerivative(3)),
                (fr.Tanh(), fr.GaussianDerivative(2)),
                (fr.ReLU(), fr.GaussianDerivative(2)),
            ]
            rows = {}
            for sigma, rho in pairs:
                label = f"<<{sigma.name}, {rho.name}>>"
                try:
                    value = fr.admissibility(sigma, rho, dim)
                    rows[label] = value
                    print(f"{label:22s} = {value:.6f}")
                except fr.NotAdmissibleError as err:
                    rows[label] = err.reason
                    print(f"{label:22s}   not admissible ({err.reason}): {err}")
            closed_form = -2 * np.sqrt(2 * np.pi)
            print(f"closed form <<relu, G^(4)>> = -2 sqrt(2 pi) = {closed_form:.6f}\\n")
            table = fr.admissibility_table(dim)
            print(table.format())
            return dict(pairs=rows, relu_g4_closed_form=closed_form, table=table)
        """
    ),
    md(
        r"""
        ## 3 · Transform and reconstruction of $\sin2\pi x$ (ACHA §7)

        ACHA §7 reconstructs $f(x)=\sin2\pi x$ on $[-1,1]$ ($f=0$ outside) from
        Riemann sums: $x$ on a grid of `num` points, $(a,b)$ on a
        `num`$\times$`num` grid over $[-A,A]^2$. `fr.ridgelet_transform`
        computes $\gamma=R[f;\rho]$ on the grid and `fr.dual_ridgelet_transform`
        computes $S[\gamma]$ (both stream over tiles of (point, unit) pairs, so
        the $n\times J$ matrix is never stored; `fr.reconstruct` does both in
        one call). The error is measured on $|x|\le0.8$ (away from the jumps of
        $f$ at $\pm1$). With the grid fine enough, the error is dominated by
        truncation. Cutting $|a|\le A$ alone would cost only $O(A^{-2})$ here (for
        ReLU with $G^{(4)}$ it scales $\sin2\pi x$ by $e^{-2\pi^2/A^2}$); the square
        grid also cuts $|b|\le A$, which clips the part of the spectrum coming from
        the kinks of $f$ at $\pm1$, and that leaves an error falling like $1/A$
        (docs/theory/ridgelets.md#truncation).
        """
    ),
    code(
        """
        def f_sin(x):
            return jnp.sin(2 * jnp.pi * x[0])


        def reconstruction_step(num, a_values, a_show, pairings):
            x, w = fr.grid_nodes(-1.0, 1.0, num)  # quadrature over x for R
            x_eval = jnp.linspace(-1.0, 1.0, 201)[:, None]
            f_eval = jax.vmap(f_sin)(x_eval)
            inner = np.abs(np.asarray(x_eval[:, 0])) <= 0.8
            pairs = {"relu / G^(4)": (fr.ReLU(), fr.GaussianDerivative(4)), "tanh / G^(3)": (fr.Tanh(), fr.GaussianDerivative(3))}
            errors = {name: [] for name in pairs}
            curves, spectrum = {}, None
            for a_max in a_values:
                # Riemann sum over the (a, b) grid
                a, b, w_ab = fr.parameter_grid(a_max, a_max, num, num)
                for name, (sigma, rho) in pairs.items():
                    gamma = fr.ridgelet_transform(f_sin, rho, a, b, x, w)
                    f_rec = fr.dual_ridgelet_transform(gamma, sigma, a, b, w_ab, x_eval) / pairings[name]
                    errors[name].append(float(np.sqrt(np.mean(np.asarray(f_rec - f_eval)[inner] ** 2))))
                    if a_max == a_show:
                        curves[name] = np.asarray(f_rec)
                        if spectrum is None:
                            spectrum = dict(gamma=gamma, a=a, b=b, w_ab=w_ab)
            slopes = {name: loglog_slope(a_values, errs) for name, errs in errors.items()}
            print(f"grid: {num} x-nodes, {num}x{num} (a, b) nodes; RMS error on |x| <= 0.8:")
            print("  A      " + "".join(f"{name:>16s}" for name in pairs))
            for i, a_max in enumerate(a_values):
                print(f"  {a_max:<6g} " + "".join(f"{errors[name][i]:16.4g}" for name in pairs))
            print("  log-log slope in A: " + ", ".join(f"{n} {s:.2f}" for n, s in slopes.items()))

            fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
            g = np.asarray(spectrum["gamma"]).reshape(num, num)
            im = axes[0].imshow(g.T, origin="lower", extent=(-a_show, a_show, -a_show, a_show), aspect="auto", cmap="RdBu_r")
            fig.colorbar(im, ax=axes[0])
            axes[0].set(xlabel="a", ylabel="b", title="spectrum $R[\\\\sin 2\\\\pi x; G^{(4)}](a, b)$")
            axes[1].plot(x_eval[:, 0], f_eval, "k--", lw=1, label="f")
            for name, rec in curves.items():
                axes[1].plot(x_eval[:, 0], rec, lw=1.2, label=name)
            axes[1].set(xlabel="x", title=f"$S[R f]/\\\\langle\\\\langle\\\\sigma,\\\\rho\\\\rangle\\\\rangle$, A = {a_show:g}")
            axes[1].legend(fontsize=7)
            for name, errs in errors.items():
                axes[2].loglog(a_values, errs, "o-", label=f"{name} (slope {slopes[name]:.2f})")
            a_arr = np.asarray(a_values, float)
            axes[2].loglog(a_arr, errors["relu / G^(4)"][0] * a_arr[0] / a_arr, "k:", lw=1, label="1/A")
            axes[2].set(xlabel="A (grid over [-A, A]$^2$)", ylabel="RMS error", title="error against the grid size")
            axes[2].legend(fontsize=7)
            fig.tight_layout()
            return dict(a_values=list(a_values), a_show=a_show, errors=errors, slopes=slopes, spectrum=spectrum, x_eval=x_eval, f_eval=f_eval, inner=inner, x=x, w=w, figure=fig)
        """
    ),
    md(
        r"""
        ## 4 · A ghost: tanh with $G''$

        tanh is odd and $G^{(2)}$ is even, so $\langle\!\langle\tanh,G^{(2)}\rangle\!\rangle=0$.
        The spectrum $R[f;G^{(2)}]$ is a perfectly good non-zero function of
        $(a,b)$, but the tanh network it parameterises computes (almost)
        nothing: $S[R[f;G^{(2)}]]\approx0$, a *ghost* (Sonoda, Ishikawa & Ikeda,
        *Ghosts in neural networks*). The admissible $G^{(3)}$ on the same grid
        gives $S[R f]=\langle\!\langle\tanh,G^{(3)}\rangle\!\rangle f$ for scale.
        On a grid symmetric under $(a,b)\mapsto(-a,-b)$ the cancellation is
        exact up to rounding, unit by unit: $R[f;G^{(2)}](-a,-b)=R[f;G^{(2)}](a,b)$
        while $\tanh(-a\cdot x+b)=-\tanh(a\cdot x-b)$.
        """
    ),
    code(
        """
        def ghost_step(rec):
            a, b, w_ab = rec["spectrum"]["a"], rec["spectrum"]["b"], rec["spectrum"]["w_ab"]
            x, w, x_eval, inner = rec["x"], rec["w"], rec["x_eval"], rec["inner"]
            gamma_ghost = fr.ridgelet_transform(f_sin, fr.GaussianDerivative(2), a, b, x, w)
            gamma_ok = fr.ridgelet_transform(f_sin, fr.GaussianDerivative(3), a, b, x, w)
            raw_ghost = np.asarray(fr.dual_ridgelet_transform(gamma_ghost, fr.Tanh(), a, b, w_ab, x_eval))
            raw_ok = np.asarray(fr.dual_ridgelet_transform(gamma_ok, fr.Tanh(), a, b, w_ab, x_eval))
            out = dict(
                spectrum_max_ghost=float(jnp.max(jnp.abs(gamma_ghost))),
                spectrum_max_admissible=float(jnp.max(jnp.abs(gamma_ok))),
                output_max_ghost=float(np.max(np.abs(raw_ghost[inner]))),
                output_max_admissible=float(np.max(np.abs(raw_ok[inner]))),
            )
            out["ratio"] = out["output_max_ghost"] / out["output_max_admissible"]
            print(
                f"max |R[f; G^(2)]| = {out['spectrum_max_ghost']:.3g} (G^(3): {out['spectrum_max_admissible']:.3g}), "
                f"but max |S[R[f; G^(2)]]| = {out['output_max_ghost']:.2e} on |x| <= 0.8 "
                f"against {out['output_max_admissible']:.3g} for G^(3): ratio {out['ratio']:.1e}"
            )
            fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
            num = int(round(np.sqrt(a.shape[0])))
            a_max = rec["a_show"]
            im = axes[0].imshow(np.asarray(gamma_ghost).reshape(num, num).T, origin="lower", extent=(-a_max, a_max, -a_max, a_max), aspect="auto", cmap="RdBu_r")
            fig.colorbar(im, ax=axes[0])
            axes[0].set(xlabel="a", ylabel="b", title="ghost spectrum $R[f; G^{(2)}](a, b)$")
            axes[1].plot(x_eval[:, 0], raw_ok, label="$S[R[f; G^{(3)}]]$ (tanh): admissible")
            axes[1].plot(x_eval[:, 0], raw_ghost, label="$S[R[f; G^{(2)}]]$ (tanh): ghost")
            axes[1].set(xlabel="x", title="tanh networks from the two spectra")
            axes[1].legend(fontsize=7)
            fig.tight_layout()
            out["figure"] = fig
            return out
        """
    ),
    md(
        r"""
        ## 5 · Oracle sampling: finite networks from $|\gamma|$

        `fr.sample_network` draws $J$ hidden units i.i.d. with probability
        proportional to $|\gamma(a_j,b_j)|w_j$ and gives each the output weight
        that makes the finite network an unbiased Monte Carlo estimate of
        $S[\gamma]$, so its RMS error falls like $J^{-1/2}$ (docs/theory/ridgelets.md#oracle-sampling).
        We average the squared error over a few independent draws.
        Refitting the output weights by least squares (`refit=(x, f(x))`)
        gives a much better network of the same width.
        """
    ),
    code(
        """
        def sampling_step(rec, pairing, widths, draws, refit_max, key):
            s = rec["spectrum"]
            gamma = s["gamma"] / pairing  # gamma_f = R[f; G^(4)] / <<relu, G^(4)>>
            x_eval, f_eval, inner = rec["x_eval"], np.asarray(rec["f_eval"]), rec["inner"]
            x_fit = rec["x"]
            y_fit = jax.vmap(f_sin)(x_fit)
            rms, rms_refit = [], []
            for width in widths:
                sq, sq_refit = [], []
                for k in jr.split(jr.fold_in(key, width), draws):
                    net = fr.sample_network(gamma, s["a"], s["b"], s["w_ab"], fr.ReLU(), width, key=k)
                    sq.append(np.mean((np.asarray(net.evaluate(x_eval)) - f_eval)[inner] ** 2))
                    if width <= refit_max:
                        net = fr.refit_output(net, x_fit, y_fit, ridge=1e-10)
                        sq_refit.append(np.mean((np.asarray(net.evaluate(x_eval)) - f_eval)[inner] ** 2))
                rms.append(float(np.sqrt(np.mean(sq))))
                if sq_refit:
                    rms_refit.append(float(np.sqrt(np.mean(sq_refit))))
            slope = loglog_slope(widths, rms)
            print("J        oracle RMS    refitted RMS")
            for i, width in enumerate(widths):
                refit = f"{rms_refit[i]:12.3g}" if i < len(rms_refit) else ""
                print(f"{width:<8d} {rms[i]:10.3g}   {refit}")
            print(f"log-log slope of the oracle error in J: {slope:.2f} (Monte Carlo: -0.5)")
            fig, ax = plt.subplots(figsize=(5.2, 3.6))
            ax.loglog(widths, rms, "o-", label=f"oracle sampling (slope {slope:.2f})")
            ax.loglog(widths[: len(rms_refit)], rms_refit, "s-", label="+ least-squares refit")
            w_arr = np.asarray(widths, float)
            ax.loglog(w_arr, rms[0] * np.sqrt(w_arr[0] / w_arr), "k:", lw=1, label="$J^{-1/2}$")
            ax.set(xlabel="width J", ylabel="RMS error on |x| <= 0.8", title="finite ReLU networks drawn from $|\\\\gamma|$")
            ax.legend(fontsize=7)
            fig.tight_layout()
            return dict(widths=list(widths), rms=rms, rms_refit=rms_refit, slope=slope, figure=fig)
        """
    ),
    md(
        r"""
        ## `main`

        `main(quick=True)` uses a $200$-point grid in $x$ and a $200\times200$
        grid over $(a,b)$ with $A\in\{5,10,20,40\}$; `main(quick=False)` uses
        $400$ points and adds $A=80$, and wider sampled networks.
        """
    ),
    code(
        """
        def main(*, quick=True, seed=0, show=True):
            start = time.perf_counter()
            num = 200 if quick else 400
            a_values = (5.0, 10.0, 20.0, 40.0) if quick else (5.0, 10.0, 20.0, 40.0, 80.0)
            widths = (10, 100, 1000, 10000) if quick else (10, 100, 1000, 10000, 100000)
            figures = {"profiles": plot_profiles()}
            if show:
                plt.show()
            adm = admissibility_step(dim=1)
            pairings = {"relu / G^(4)": adm["pairs"]["<<relu, G^(4)>>"], "tanh / G^(3)": adm["pairs"]["<<tanh, G^(3)>>"]}
            rec = reconstruction_step(num, a_values, 20.0, pairings)
            figures["reconstruction"] = rec["figure"]
            if show:
                plt.show()
            ghost = ghost_step(rec)
            figures["ghost"] = ghost.pop("figure")
            if show:
                plt.show()
            samp = sampling_step(rec, pairings["relu / G^(4)"], widths, 4 if quick else 8, 1000, jr.PRNGKey(seed))
            figures["sampling"] = samp.pop("figure")
            if show:
                plt.show()
            table = adm["table"]
            summary = dict(
                pairing_relu_g4=adm["pairs"]["<<relu, G^(4)>>"],
                pairing_relu_g4_closed_form=adm["relu_g4_closed_form"],
                pairing_tanh_g3=adm["pairs"]["<<tanh, G^(3)>>"],
                tanh_g2=adm["pairs"]["<<tanh, G^(2)>>"],
                relu_g2=adm["pairs"]["<<relu, G^(2)>>"],
                table5_status={row: list(table.status[row]) for row in table.rows},
                table5_matches_published=table.matches_published(),
                a_values=rec["a_values"],
                reconstruction_rms=rec["errors"],
                reconstruction_slopes=rec["slopes"],
                ghost=ghost,
                sampling=samp,
                seconds=time.perf_counter() - start,
            )
            print(f"main() took {summary['seconds']:.1f} s")
            return dict(summary=summary, figures=figures, table=table)
        """
    ),
    _run_cell(),
]


# --------------------------------------------------------------------------- 02

NB02: list[Cell] = [
    COLAB_CELL,
    md(
        r"""
        # 02 · Flows and ResNet depth: the double continuum

        A ResNet $x_{l+1}=x_l+h\,v_{t_l}(x_l)$ is the Euler broken line of the
        flow $\dot x_t=v_t(x_t)$: depth becomes time (Sonoda & Murata, *Transport
        analysis of infinitely deep neural network*, JMLR 2019; Li & Shi, *A
        flow model of neural networks*, arXiv 1708.06257; docs/theory/flows.md). If
        every layer's field is itself an integral representation,
        $v_t(x)=\sum_jc_j(t)\,\sigma(a_j(t)\cdot x-b_j(t))$, width is a
        continuum too: the *double continuum limit*. flowrep's `RidgeletField`
        is that object, and `fr.flow` integrates it with diffrax.

        This notebook:

        1. builds a random `RidgeletField`, flows points along it and runs the flow backward (the inverse map);
        2. follows the log-density along paths (continuity equation) to get the entropy $H[\mu_t]$, checked against a k-NN estimate;
        3. cuts the flow into a ResNet of depth $L$ (`fr.euler_network`) and measures the $O(1/L)$ convergence;
        4. writes a plain leaky-ReLU network as a glued flow (Li & Shi) and refines it into ResNets whose error falls as $O(1/n)$.

        Everything runs in `main(**defaults)` at the end; `main(quick=False)` uses more points and depths.
        """
    ),
    COLAB_MD,
    imports("import equinox as eqx"),
    md(
        r"""
        ## 1 · A `RidgeletField` and its flow

        `RidgeletField.random(key, dim, num_units, basis="chebyshev", num_knots=4)`
        draws $J$ tanh units whose parameters $a_j(t),b_j(t),c_j(t)$ are
        Chebyshev polynomials of degree 3 in $t\in[0,1]$. `fr.flow(field, x0,
        t0, t1, ts=...)` integrates the whole batch in one diffrax solve
        (adaptive Tsit5 by default) and records the tracks at `ts`. With
        $t_1<t_0$ it integrates backward, which inverts the time-1 map: a flow
        is a diffeomorphism.
        """
    ),
    code(
        """
        def flow_step(field, x0, ts, tol):
            res = fr.flow(field, x0, 0.0, 1.0, ts=ts, log_density="exact", rtol=tol, atol=tol)
            back = fr.flow(field, res.xs, 1.0, 0.0, rtol=tol, atol=tol)
            inverse_error = float(jnp.max(jnp.abs(back.xs - x0)))
            print(f"flowed {x0.shape[0]} points in {int(res.stats['num_steps'])} adaptive steps (rtol = atol = {tol:g})")
            print(f"backward flow of the end points: max |x0 - phi_1^-1(phi_1(x0))| = {inverse_error:.2e}")

            fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
            g = jnp.linspace(-3.0, 3.0, 15)
            grid = jnp.stack(jnp.meshgrid(g, g), -1).reshape(-1, 2)
            for t, color in ((0.0, "tab:blue"), (1.0, "tab:red")):
                v = field.batch_call(t, grid)
                axes[0].quiver(grid[:, 0], grid[:, 1], v[:, 0], v[:, 1], color=color, alpha=0.7, label=f"$v_{{{t:g}}}$")
            axes[0].set(title="the field at t = 0 and t = 1", aspect="equal")
            axes[0].legend(fontsize=7, loc="upper right")
            tracks = np.asarray(res.tracks[:, :60])
            axes[1].plot(tracks[:, :, 0], tracks[:, :, 1], "-", color="0.5", lw=0.7)
            axes[1].scatter(*tracks[0].T, s=8, color="tab:green", label="$x_0$", zorder=3)
            axes[1].scatter(*tracks[-1].T, s=8, color="tab:red", label="$x_1$", zorder=3)
            back_pts = np.asarray(back.xs[:60])
            axes[1].scatter(*back_pts.T, s=40, facecolors="none", edgecolors="k", lw=0.6, label="backward flow of $x_1$")
            axes[1].set(title="tracks $t\\\\mapsto x_t$ and the inverse map", aspect="equal")
            axes[1].legend(fontsize=7)
            fig.tight_layout()
            return dict(result=res, inverse_error=inverse_error, num_steps=int(res.stats["num_steps"]), figure=fig)
        """
    ),
    md(
        r"""
        ## 2 · Log-density along paths and the entropy $H[\mu_t]$

        The pushforward $\mu_t$ of $\mu_0$ solves the continuity equation, so
        along each path $\frac{d}{dt}\log\mu_t(x_t)=-\nabla\cdot v_t(x_t)$
        (docs/theory/flows.md#continuity-equation). `flow(..., log_density="exact")` integrates the
        divergence with the points (fused for a `RidgeletField`:
        $\nabla\cdot v=\sum_j\sigma'(a_j\cdot x-b_j)\,c_j\cdot a_j$). With
        $x_0\sim\mu_0=N(0,I)$, `fr.flow_entropy` gives
        $H[\mu_t]=-\frac1n\sum_i\log\mu_t(x_{i,t})$. An independent check: the
        Kozachenko–Leonenko k-NN estimate `fr.knn_entropy` on the flowed
        samples, which knows nothing about the field.
        """
    ),
    code(
        """
        def entropy_step(res, x0):
            logp0 = -0.5 * jnp.sum(x0**2, axis=1) - jnp.log(2 * jnp.pi)  # log N(0, I) in 2-D
            h_flow = np.asarray(fr.flow_entropy(res, logp0))
            logp = np.asarray(res.log_densities(logp0))
            stderr = logp.std(axis=1) / np.sqrt(logp.shape[1])
            h_knn = np.array([float(fr.knn_entropy(res.tracks[i], k=5)) for i in range(len(res.ts))])
            ts = np.asarray(res.ts)
            print("t      H (continuity)   H (k-NN)")
            for i in range(0, len(ts), max(1, len(ts) // 5)):
                print(f"{ts[i]:<6.2f} {h_flow[i]:8.4f} +- {stderr[i]:.3f}  {h_knn[i]:8.4f}")
            print(f"H[mu_0] exact = log(2 pi e) = {np.log(2 * np.pi * np.e):.4f}")
            fig, ax = plt.subplots(figsize=(5.2, 3.6))
            ax.fill_between(ts, h_flow - 2 * stderr, h_flow + 2 * stderr, alpha=0.3)
            ax.plot(ts, h_flow, "-", label="continuity equation (flow_entropy)")
            ax.plot(ts, h_knn, "o", ms=4, label="k-NN estimate of the flowed samples")
            ax.set(xlabel="t", ylabel="$H[\\\\mu_t]$ (nats)", title="entropy along the flow")
            ax.legend(fontsize=7)
            fig.tight_layout()
            return dict(t=ts.tolist(), entropy_flow=h_flow.tolist(), entropy_knn=h_knn.tolist(), stderr=stderr.tolist(), figure=fig)
        """
    ),
    md(
        r"""
        ## 3 · ResNets are Euler broken lines: $O(1/L)$

        `fr.euler_network(field, L)` is the ResNet $x_{l+1}=x_l+h\,v_{t_l}(x_l)$,
        $h=1/L$. For a `RidgeletField` every block is a finite integral network
        (an `IntegralNetwork` with output weights $h\,c_j(t_l)$) and the forward
        pass is one `lax.scan`. Its output converges to the time-1 flow map at
        rate $O(1/L)$; the reference is the accurate adaptive solve of step 1.
        """
    ),
    code(
        """
        def depth_step(field, x0, reference, depths):
            errors = []
            for depth in depths:
                resnet = fr.euler_network(field, depth)
                out = jax.vmap(resnet)(x0)
                errors.append(float(jnp.max(jnp.linalg.norm(out - reference, axis=1))))
            slope = loglog_slope(depths, errors)
            print("L      max |ResNet_L(x) - phi_1(x)|")
            for depth, err in zip(depths, errors):
                print(f"{depth:<6d} {err:.3e}")
            print(f"log-log slope: {slope:.2f} (Euler: -1)")

            fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
            axes[0].loglog(depths, errors, "o-", label=f"ResNet (slope {slope:.2f})")
            d = np.asarray(depths, float)
            axes[0].loglog(d, errors[-1] * d[-1] / d, "k:", lw=1, label="O(1/L)")
            axes[0].set(xlabel="depth L", ylabel="max error", title="ResNet of depth L against the flow")
            axes[0].legend(fontsize=7)
            few = x0[:6]
            fine = fr.flow(field, few, 0.0, 1.0, ts=jnp.linspace(0.0, 1.0, 41))
            axes[1].plot(fine.tracks[:, :, 0], fine.tracks[:, :, 1], "k-", lw=1.5)
            for depth, color in ((4, "tab:orange"), (16, "tab:blue")):
                resnet = fr.euler_network(field, depth)
                tr = np.asarray(jax.vmap(resnet.tracks)(few))  # [6, L + 1, 2]
                for i in range(tr.shape[0]):
                    axes[1].plot(tr[i, :, 0], tr[i, :, 1], ".-", color=color, lw=0.8, ms=3, label=f"L = {depth}" if i == 0 else None)
            axes[1].plot([], [], "k-", label="flow")
            axes[1].set(title="Euler broken lines vs the flow", aspect="equal")
            axes[1].legend(fontsize=7)
            fig.tight_layout()
            return dict(depths=list(depths), errors=errors, slope=slope, figure=fig)
        """
    ),
    md(
        r"""
        ## 4 · Li & Shi: a plain network is a glued flow

        A layer $x\mapsto\phi(Wx+b)$ with $W$ square and $\det W>0$ is a
        composition of unit-time flows: rotation $V^\top$, scaling $\Sigma$,
        rotation $U$ (from $W=U\Sigma V^\top$), translation $b$, and the
        activation: leaky ReLU of slope $\alpha$ is the time-1 flow of
        $v(x)=\ln(1/\alpha)\,\mathrm{ReLU}(-x)$ (docs/theory/flows.md#li-shi).
        `fr.plain_net_flow(mlp)` builds that piecewise-in-time field; an
        accurate solve of it reproduces the plain net. `fr.refine(field, n)` takes
        $n$ Euler steps per unit piece: a ResNet (each block a two-layer ReLU
        network) whose error falls as $O(1/n)$. A layer with $\det W<0$ is
        refused: a flow cannot reverse orientation.
        """
    ),
    code(
        """
        def orientation_preserving_mlp(key, dim, depth, alpha):
            \"\"\"A leaky-ReLU eqx.nn.MLP with square layers; rows flipped so that det W > 0.\"\"\"
            act = fr.LeakyReLU(alpha)
            mlp = eqx.nn.MLP(dim, dim, dim, depth, activation=act, final_activation=act, key=key)
            flip = jnp.ones(dim).at[0].set(-1.0)  # negating a row (and its bias entry) flips the sign of det W
            for i, layer in enumerate(mlp.layers):
                if float(jnp.linalg.det(layer.weight)) < 0:
                    mlp = eqx.tree_at(lambda m, i=i: (m.layers[i].weight, m.layers[i].bias), mlp, (layer.weight * flip[:, None], layer.bias * flip))
            return mlp


        def li_shi_step(key, num_points, ns, n_fit):
            k_net, k_x = jr.split(key)
            mlp = orientation_preserving_mlp(k_net, 2, 2, 0.2)
            field = fr.plain_net_flow(mlp)
            print(f"{len(mlp.layers)} layers -> {field.num_pieces} unit pieces: {', '.join(field.kinds[:5])}, ...")
            x = jr.normal(k_x, (num_points, 2))
            target = jax.vmap(mlp)(x)
            glued = fr.flow(field, x, field.t0, field.t1, stepsize_controller=field.stepsize_controller(1e-10, 1e-10), max_steps=100_000)
            flow_error = float(jnp.max(jnp.abs(glued.xs - target)))
            print(f"accurate solve of the glued flow vs the plain net: max error {flow_error:.1e}")
            errors = []
            for n in ns:
                resnet = fr.refine(field, n)
                errors.append(float(jnp.max(jnp.linalg.norm(jax.vmap(resnet)(x) - target, axis=1))))
            fit = [i for i, n in enumerate(ns) if n >= n_fit]
            slope = loglog_slope([ns[i] for i in fit], [errors[i] for i in fit])
            print("n      depth   max |ResNet(x) - plain net(x)|")
            for n, err in zip(ns, errors):
                print(f"{n:<6d} {n * field.num_pieces:<7d} {err:.3e}")
            print(f"log-log slope for n >= {n_fit}: {slope:.2f} (claim: -1)")
            bad = eqx.tree_at(lambda m: m.layers[0].weight, mlp, mlp.layers[0].weight * jnp.array([[-1.0], [1.0]]))
            try:
                fr.plain_net_flow(bad)
            except ValueError as err:
                print(f"det W < 0 is refused: ValueError: {str(err)[:110]}...")
            fig, ax = plt.subplots(figsize=(5.2, 3.6))
            ax.loglog(ns, errors, "o-", label=f"refinement error (slope {slope:.2f})")
            n_arr = np.asarray(ns, float)
            ax.loglog(n_arr, errors[-1] * n_arr[-1] / n_arr, "k:", lw=1, label="O(1/n)")
            ax.axhline(flow_error, color="0.5", ls="-.", lw=0.8, label="adaptive glued flow")
            ax.set(xlabel="Euler steps per unit piece, n", ylabel="max error", title="Li & Shi: plain net -> ResNet")
            ax.legend(fontsize=7)
            fig.tight_layout()
            return dict(num_pieces=field.num_pieces, flow_error=flow_error, ns=list(ns), errors=errors, slope=slope, figure=fig)
        """
    ),
    md(
        r"""
        ## `main`

        `main(quick=True)`: 32 tanh units, 400 points, depths $L=4\ldots128$,
        Li–Shi refinements $n=4\ldots256$. `main(quick=False)` uses 2000 points,
        $L$ up to 512 and $n$ up to 1024.
        """
    ),
    code(
        """
        def main(*, quick=True, seed=0, num_units=32, show=True):
            start = time.perf_counter()
            k_field, k_x, k_li = jr.split(jr.PRNGKey(seed), 3)
            num_points = 400 if quick else 2000
            depths = (4, 8, 16, 32, 64, 128) if quick else (4, 8, 16, 32, 64, 128, 256, 512)
            ns = (4, 8, 16, 32, 64, 128, 256) if quick else (4, 8, 16, 32, 64, 128, 256, 512, 1024)
            field = fr.RidgeletField.random(k_field, dim=2, num_units=num_units, sigma="tanh", basis="chebyshev", num_knots=4)
            x0 = jr.normal(k_x, (num_points, 2))
            figures = {}
            fl = flow_step(field, x0, jnp.linspace(0.0, 1.0, 21), 1e-9)
            figures["flow"] = fl.pop("figure")
            if show:
                plt.show()
            ent = entropy_step(fl["result"], x0)
            figures["entropy"] = ent.pop("figure")
            if show:
                plt.show()
            dep = depth_step(field, x0, fl["result"].xs, depths)
            figures["depth"] = dep.pop("figure")
            if show:
                plt.show()
            li = li_shi_step(k_li, 256, ns, 16)
            figures["li_shi"] = li.pop("figure")
            if show:
                plt.show()
            summary = dict(
                inverse_error=fl["inverse_error"],
                num_steps=fl["num_steps"],
                entropy=ent,
                depth=dep,
                li_shi=li,
                seconds=time.perf_counter() - start,
            )
            print(f"main() took {summary['seconds']:.1f} s")
            return dict(summary=summary, figures=figures, field=field)
        """
    ),
    _run_cell(),
]


# --------------------------------------------------------------------------- 03

NB03: list[Cell] = [
    COLAB_CELL,
    md(
        r"""
        # 03 · Denoising autoencoders as transport

        Sonoda & Murata (*Transportation analysis of denoising autoencoders*,
        arXiv 1712.04145; *Transport analysis of infinitely deep neural
        network*, JMLR 2019) read a denoising autoencoder as a transport map.
        The optimal DAE for Gaussian noise of variance $t$ on data $\mu_0$ is
        $g_t(x)=x+t\nabla\log(W_t*\mu_0)(x)$ ($W_t$ the heat kernel). Stacking
        infinitesimal DAEs, each retrained on the current pushforward, gives the
        *deep DAE*: the flow $\dot x=\nabla\log\mu_t(x)$, whose marginal solves
        the backward heat equation $\partial_t\mu_t=-\Delta\mu_t$ and whose
        entropy decreases, $\frac{d}{dt}H[\mu_t]=-\int|\nabla\log\mu_t|^2d\mu_t$
        (Sonoda & Murata, arXiv 1712.04145; docs/theory/dae.md#deep-dae). For a Gaussian mixture everything is closed form:
        $\mu_t=\sum_k\pi_kN(m_k,\Sigma_k-2tI)$, valid until the collapse time
        $t^*=\min_k\lambda_{\min}(\Sigma_k)/2$.

        This notebook:

        1. applies the shallow (one-layer) DAE to samples of a 2-D mixture;
        2. flows the same samples along the deep DAE and checks the pushforward and the log-density against the closed form $\mu_t$;
        3. computes the entropy curve $H[\mu_t]$ three independent ways (`fr.entropy_curves`);
        4. stacks $L$ DAEs of noise $t/L$: "deeper converges faster" (`fr.depth_table`);
        5. asks for a time past the collapse and gets a clear error.

        Everything runs in `main(**defaults)` at the end; `main(quick=False)` uses more samples and adds the mixture depth table.
        """
    ),
    COLAB_MD,
    IMPORTS,
    md(
        r"""
        ## 1 · The data law and the shallow DAE

        A 3-component `fr.GaussianMixture` on $\mathbb R^2$.
        `fr.shallow_dae(law, t, x)` is the optimal DAE in closed form,
        $g_t(x)=\sum_kw_k(x)[m_k+\Sigma_k(\Sigma_k+tI)^{-1}(x-m_k)]$ with
        $w_k\propto\pi_kN(x;m_k,\Sigma_k+tI)$ (docs/theory/dae.md#gaussian-mixtures): each sample moves
        towards the mode of its component, by a step proportional to $t$.
        """
    ),
    code(
        """
        def data_law():
            return fr.GaussianMixture(
                jnp.array([0.3, 0.4, 0.3]),
                jnp.array([[-2.0, 0.0], [2.0, 0.5], [0.0, 2.5]]),
                jnp.array([[[0.6, 0.0], [0.0, 0.6]], [[0.9, 0.2], [0.2, 0.7]], [[0.6, -0.1], [-0.1, 0.8]]]),
            )


        def density_contours(ax, law, color, levels=6):
            g = jnp.linspace(-4.5, 4.5, 120)
            grid = jnp.stack(jnp.meshgrid(g, g), -1).reshape(-1, 2)
            dens = jnp.exp(jax.vmap(law.log_prob)(grid)).reshape(120, 120)
            ax.contour(g, g, dens, levels=levels, colors=color, linewidths=0.7)


        def total_variance(law):
            \"\"\"tr Cov of a Gaussian mixture: sum_k pi_k (tr Sigma_k + |m_k - mean|^2).\"\"\"
            mean = law.weights @ law.means
            spread = jnp.sum((law.means - mean) ** 2, axis=1) + jnp.trace(law.covs, axis1=1, axis2=2)
            return float(law.weights @ spread)
        """
    ),
    md(
        r"""
        ## 2 · The deep DAE: a flow along $\nabla\log\mu_t$

        `fr.deep_dae_flow(law, x, t)` integrates $\dot x=\nabla\log\mu_t(x)$ with
        diffrax (the field is the closed-form score of $\mu_t$), optionally with
        the log-density along each path. Two checks against the closed form
        $\mu_t$ (`law.backward_heat(t)`), which the flow never uses as a target:

        - the flowed samples are samples of $\mu_t$: their exact $W_2$ to fresh
          samples of $\mu_t$ is at the level of two independent samples of $\mu_t$,
          and their total variance drops by exactly $2tm$ (each $\Sigma_k$ loses $2tI$);
          the shallow DAE of the same $t$ contracts less;
        - $\log\mu_0(x_0)-\int_0^t\nabla\cdot v$ along a path equals $\log\mu_t(x_t)$.
        """
    ),
    code(
        """
        def transport_step(law, t, ts, x, key):
            shallow = fr.shallow_dae(law, t, x)
            deep = fr.deep_dae_flow(law, x, t, ts=ts, log_density="exact", rtol=1e-6, atol=1e-8)
            law_t = law.backward_heat(t)
            k1, k2 = jr.split(key)
            fresh, fresh2 = law_t.sample(x.shape[0], key=k1), law_t.sample(x.shape[0], key=k2)
            w2_flow = float(fr.wasserstein2(deep.xs, fresh, method="exact").distance)
            w2_noise = float(fr.wasserstein2(fresh2, fresh, method="exact").distance)
            variance = {name: float(jnp.trace(jnp.cov(pts.T))) for name, pts in (("data", x), ("shallow", shallow), ("deep", deep.xs))}
            variance["closed_form"] = total_variance(law_t)
            logp_path = jax.vmap(law.log_prob)(x) + deep.log_density_change
            logp_closed = jax.vmap(law_t.log_prob)(deep.xs)
            logp_error = float(jnp.max(jnp.abs(logp_path - logp_closed)))
            print(f"t = {t}, collapse time t* = {float(law.collapse_time):.4f}, n = {x.shape[0]}")
            print(f"W2(deep flow samples, fresh mu_t samples) = {w2_flow:.4f}; two fresh samples of mu_t: {w2_noise:.4f}")
            print(
                f"total variance: data {variance['data']:.4f}, shallow DAE {variance['shallow']:.4f}, deep DAE {variance['deep']:.4f}, "
                f"closed form of mu_t {variance['closed_form']:.4f} (= that of mu_0 - 2 t m)"
            )
            print(f"max |log mu_0(x_0) - int div v - log mu_t(x_t)| = {logp_error:.1e}")

            fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
            few = slice(0, 150)
            xs, ys = np.asarray(x[few]), np.asarray(shallow[few])
            axes[0].scatter(*xs.T, s=4, color="0.6", label="$x\\\\sim\\\\mu_0$")
            axes[0].quiver(xs[:, 0], xs[:, 1], *(ys - xs).T, angles="xy", scale_units="xy", scale=1, width=0.003, color="tab:blue")
            axes[0].scatter(*ys.T, s=4, color="tab:blue", label=f"shallow DAE $g_{{{t:g}}}(x)$")
            density_contours(axes[0], law, "0.4")
            axes[0].set(title="shallow DAE: one step", aspect="equal")
            tracks = np.asarray(deep.tracks[:, few])
            axes[1].plot(tracks[:, :, 0], tracks[:, :, 1], "-", color="tab:red", lw=0.6, alpha=0.7)
            axes[1].scatter(*tracks[-1].T, s=4, color="tab:red", label=f"deep DAE $x_{{{t:g}}}$")
            density_contours(axes[1], law_t, "k")
            axes[1].set(title=f"deep DAE: tracks, and contours of $\\\\mu_{{{t:g}}}$", aspect="equal")
            for ax in axes:
                ax.legend(fontsize=7, loc="lower right")
                ax.set(xlim=(-4.5, 4.5), ylim=(-3.5, 5))
            fig.tight_layout()
            return dict(w2_flow=w2_flow, w2_noise=w2_noise, variance=variance, logp_error=logp_error, figure=fig)
        """
    ),
    md(
        r"""
        ## 3 · Entropy decreases along the deep DAE

        `fr.entropy_curves(law, ts, key=...)` computes $H[\mu_t]$ three ways: the
        closed form (Gauss–Hermite quadrature of the mixture $\mu_t$), the
        continuity equation along the flowed samples (mean of
        $-\log\mu_t(x_t)$, with its standard error), and the k-NN
        (Kozachenko–Leonenko) estimate of the flowed samples. It also returns
        the Fisher information $\int|\nabla\log\mu_t|^2d\mu_t$, which must equal
        $-dH/dt$: we compare it with a finite difference of the closed-form curve.
        The continuity and k-NN estimates use the same samples at every $t$, so
        their common offset from the closed form (about one standard error) is
        sampling noise of $\mu_0$, constant in $t$.
        """
    ),
    code(
        """
        def entropy_step(law, ts, key, num_samples):
            cur = fr.entropy_curves(law, ts, key=key, num_samples=num_samples)
            t = cur["t"]
            dh = np.diff(cur["closed_form"]) / np.diff(t)
            fisher_mid = 0.5 * (cur["fisher"][1:] + cur["fisher"][:-1])
            print("t      closed form   continuity        k-NN     Fisher")
            for i in range(len(t)):
                print(f"{t[i]:<6.3f} {cur['closed_form'][i]:10.4f} {cur['continuity'][i]:10.4f} +- {cur['continuity_stderr'][i]:.3f} {cur['knn'][i]:8.4f} {cur['fisher'][i]:9.3f}")
            print("-dH/dt (finite differences) vs the Fisher information (midpoints):")
            print("  " + ", ".join(f"{-a:.3f} vs {b:.3f}" for a, b in zip(dh, fisher_mid)))
            fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
            axes[0].plot(t, cur["closed_form"], "k-", label="closed form")
            axes[0].errorbar(t, cur["continuity"], yerr=2 * cur["continuity_stderr"], fmt="o", ms=4, capsize=2, label="continuity equation")
            axes[0].plot(t, cur["knn"], "s", ms=4, label="k-NN")
            axes[0].set(xlabel="t", ylabel="$H[\\\\mu_t]$", title="entropy along the deep DAE")
            axes[0].legend(fontsize=7)
            axes[1].plot(t, cur["fisher"], "k-", label="Fisher information")
            axes[1].plot(0.5 * (t[1:] + t[:-1]), -dh, "o", ms=4, label="$-dH/dt$ (finite differences)")
            axes[1].set(xlabel="t", title="de Bruijn: $dH/dt = -\\\\int|\\\\nabla\\\\log\\\\mu_t|^2 d\\\\mu_t$")
            axes[1].legend(fontsize=7)
            fig.tight_layout()
            out = {k: np.asarray(v).tolist() for k, v in cur.items()}
            out["figure"] = fig
            return out
        """
    ),
    md(
        r"""
        ## 4 · Deeper converges faster

        $L$ stacked DAEs of noise $t/L$ each, every one optimal for the current
        pushforward, approach the deep limit as $L$ grows. For a Gaussian
        $N(m,\Sigma)$ everything is closed form: one DAE maps the eigenvalues
        $\lambda\mapsto\lambda^3/(\lambda+t)^2$, the deep limit is
        $\Sigma-2tI$ (docs/theory/dae.md#gaussian-data). `fr.depth_table` reports the exact $W_2$
        from the $L$-layer output law to the deep limit and the entropies. With
        `quick=False` the same table is computed for the mixture from samples
        (EM refits in every layer; `map_rms` bounds $W_2$).
        """
    ),
    code(
        """
        def depth_step(t, mixture=None, key=None):
            gauss = fr.GaussianLaw(jnp.zeros(2), jnp.array([[1.0, 0.3], [0.3, 0.6]]))
            rows = fr.depth_table(gauss, t)
            ls = [r["num_layers"] for r in rows]
            w2 = [r["w2_to_deep"] for r in rows]
            slope = loglog_slope(ls[-4:], w2[-4:])
            print(f"Gaussian N(0, [[1, .3], [.3, .6]]), t = {t}: L stacked DAEs of noise t/L vs the deep limit")
            print("L      W2 to deep      entropy   (deep limit)")
            for r in rows:
                print(f"{r['num_layers']:<6d} {r['w2_to_deep']:.5f}     {r['entropy']:.5f}   ({r['entropy_deep']:.5f})")
            print(f"log-log slope of W2 over the last four L: {slope:.2f}")
            mix_rows = None
            if mixture is not None:
                mix_rows = fr.depth_table(mixture, t, num_layers=(1, 2, 4, 8, 16), key=key, num_samples=1000)
                print("mixture (from samples): L, map RMS to the deep flow, entropy (deep limit)")
                for r in mix_rows:
                    print(f"  {r['num_layers']:<4d} {r['map_rms']:.4f}  {r['entropy']:.4f} ({r['entropy_deep']:.4f})")
            fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
            axes[0].loglog(ls, w2, "o-", label=f"Gaussian (tail slope {slope:.2f})")
            if mix_rows is not None:
                axes[0].loglog([r["num_layers"] for r in mix_rows], [r["map_rms"] for r in mix_rows], "s-", label="mixture: map RMS")
            axes[0].set(xlabel="layers L", ylabel="$W_2$ to the deep limit", title="stacked DAEs approach the deep DAE")
            axes[0].legend(fontsize=7)
            axes[1].semilogx(ls, [r["entropy"] for r in rows], "o-", label="L stacked DAEs")
            axes[1].axhline(rows[0]["entropy_deep"], color="k", ls="--", lw=1, label="deep limit")
            axes[1].axhline(float(gauss.entropy()), color="0.5", ls=":", lw=1, label="data")
            axes[1].set(xlabel="layers L", ylabel="entropy of the output law", title="entropy after the stack")
            axes[1].legend(fontsize=7)
            fig.tight_layout()
            return dict(gaussian=rows, slope=slope, mixture=mix_rows, figure=fig)
        """
    ),
    md(
        r"""
        ## 5 · Past the collapse time: a clear error

        $\mu_t$ only exists while $\Sigma_k-2tI$ stays positive definite. Asking
        for $t\ge t^*$ raises `fr.CollapseError` (a `ValueError`) before any
        integration, instead of returning NaNs.
        """
    ),
    code(
        """
        def collapse_step(law, x):
            t_star = float(law.collapse_time)
            try:
                fr.deep_dae_flow(law, x, 1.5 * t_star)
            except fr.CollapseError as err:
                print(f"CollapseError: {err}")
                return dict(t_star=t_star, raised=True)
            return dict(t_star=t_star, raised=False)
        """
    ),
    md(
        r"""
        ## `main`

        `main(quick=True)`: 1000 samples, $t=0.2$ (the collapse time is $0.279$),
        6 times for the entropy curve. `main(quick=False)`: 4000 samples, 11
        times, and the mixture depth table.
        """
    ),
    code(
        """
        def main(*, quick=True, seed=0, t=0.2, show=True):
            start = time.perf_counter()
            law = data_law()
            num_samples = 1000 if quick else 4000
            ts = np.linspace(0.0, t, 6 if quick else 11)
            k_data, k_fresh, k_mix = jr.split(jr.PRNGKey(seed), 3)
            # the same samples that entropy_curves draws with the same key
            x = law.sample(num_samples, key=k_data)
            figures = {}
            tr = transport_step(law, t, ts, x, k_fresh)
            figures["transport"] = tr.pop("figure")
            if show:
                plt.show()
            ent = entropy_step(law, ts, k_data, num_samples)
            figures["entropy"] = ent.pop("figure")
            if show:
                plt.show()
            dep = depth_step(t, None if quick else law, k_mix)
            figures["depth"] = dep.pop("figure")
            if show:
                plt.show()
            col = collapse_step(law, x)
            summary = dict(t=t, transport=tr, entropy=ent, depth=dep, collapse=col, seconds=time.perf_counter() - start)
            print(f"main() took {summary['seconds']:.1f} s")
            return dict(summary=summary, figures=figures, law=law)
        """
    ),
    _run_cell(),
]


# --------------------------------------------------------------------------- 04

NB04: list[Cell] = [
    COLAB_CELL,
    md(
        r"""
        # 04 · Geodesics and transport scores

        Gai & Zhang (*A mathematical principle of deep learning: learn the
        geodesic curve in the Wasserstein space*, arXiv 2102.09235) argue that
        a trained deep network moves its features along a $W_2$ geodesic: the
        layers carry $\mu_0$ (inputs) to $\mu_L$ (the last features) on straight
        lines at constant speed, paired by the optimal transport map. By
        Benamou–Brenier, $W_2^2(\mu_0,\mu_1)=\min\int_0^1\!\!\int\|v_t\|^2d\rho_t\,dt$,
        and the minimiser is the displacement interpolation
        $\rho_s=((1-s)\mathrm{Id}+sT)_\#\mu_0$ (docs/theory/scores.md#benamou-brenier).

        flowrep scores how far a set of *tracks* $x_i^l$ ($l=0..L$) is from that
        geodesic (`fr.score_tracks`): the line-shape score LSS (Gai & Zhang; 1
        iff straight), the cost ratio $c_{net}/W_2^2$ (1 iff the pairing is
        optimal), the kinetic ratio $E/W_2^2$ (1 iff straight, constant speed
        *and* optimal), and the Eulerian path ratio
        $\sum_lW_2(\mu_l,\mu_{l+1})/W_2(\mu_0,\mu_L)$.

        This notebook:

        1. estimates $W_2$ between two clouds three ways (`fr.wasserstein2`: exact, Sinkhorn, Gaussian) against the closed form;
        2. scores hand-made tracks: the straight OT interpolation, a zig-zag with the same pairing, straight lines with a wrong pairing;
        3. trains ResNets from source to target (plain, with a kinetic-energy penalty, and with `quick=False` with weight decay) and scores their tracks.

        Everything runs in `main(**defaults)` at the end; `main(quick=False)` uses more samples and training steps.
        """
    ),
    COLAB_MD,
    imports(
        stdlib=("import warnings",),
        x64=False,
        setup='# fr.fit imports tqdm.auto, which warns when ipywidgets is missing\nwarnings.filterwarnings("ignore", message="IProgress not found")\n',
    ),
    md(
        r"""
        ## 1 · $W_2$: exact, Sinkhorn, Gaussian

        Source $\mu_0=N(0,I)$, target $\mu_1=N(m,S)$ in 2-D, $n$ samples each.
        The closed form is $W_2^2=\|m\|^2+\mathrm{tr}(I+S-2S^{1/2})$
        (`fr.gaussian_w2`). `fr.wasserstein2(x, y, method=...)`: `"exact"` is the
        optimal assignment of the two clouds (Hungarian), `"sinkhorn"` the
        debiased Sinkhorn divergence (flowrep's own solver), `"gaussian"` the
        Bures formula of the fitted Gaussians. The sample estimates differ from
        the population value by sampling error, which shrinks with $n$.
        """
    ),
    code(
        """
        TARGET_MEAN = jnp.array([3.0, 1.0])
        TARGET_COV = jnp.array([[1.5, 0.6], [0.6, 0.5]])


        def clouds(key, n):
            k1, k2 = jr.split(key)
            x = jr.normal(k1, (n, 2))
            y = TARGET_MEAN + jr.normal(k2, (n, 2)) @ jnp.linalg.cholesky(TARGET_COV).T
            return x, y


        def w2_step(key, sizes):
            exact = float(fr.gaussian_w2(jnp.zeros(2), jnp.eye(2), TARGET_MEAN, TARGET_COV))
            rows = []
            for n in sizes:
                x, y = clouds(jr.fold_in(key, n), n)
                row = dict(n=n)
                for method in ("exact", "sinkhorn", "gaussian"):
                    res = fr.wasserstein2(x, y, method=method)
                    jax.block_until_ready(res.cost)
                    t0 = time.perf_counter()  # a second, compiled call for the timing
                    res = fr.wasserstein2(x, y, method=method)
                    jax.block_until_ready(res.cost)
                    row[method] = float(res.cost)
                    row[method + "_ms"] = 1e3 * (time.perf_counter() - t0)
                rows.append(row)
            print(f"W2^2 closed form (population): {exact:.4f}")
            print("n       exact            sinkhorn         gaussian")
            for r in rows:
                print(f"{r['n']:<7d} " + "  ".join(f"{r[m]:7.4f} ({r[m + '_ms']:5.1f} ms)" for m in ("exact", "sinkhorn", "gaussian")))
            return dict(closed_form=exact, rows=rows)
        """
    ),
    md(
        r"""
        ## 2 · Hand-made tracks: what each score sees

        Three ways from the same $x$ to the same target cloud, $L=8$ layers:

        - **straight OT**: $x^l=(1-s_l)x+s_lT(x)$ with $T$ the exact optimal
          assignment (`fr.assignment_map`): the discrete geodesic, every score is 1;
        - **zig-zag**: the same pairing, but odd layers move only the first
          coordinate and even layers only the second: the pairing is still
          optimal (cost ratio 1) but the tracks are staircases (LSS
          $\approx\sqrt2$ at most, kinetic ratio $>1$);
        - **wrong pairing**: straight lines at constant speed to a random
          permutation of the targets: LSS is 1, but the cost ratio shows the
          pairing is far from optimal.

        `fr.Tracks` holds the `(L+1, n, d)` array; `fr.plot_tracks` draws the
        tracks with the exact OT pairing dashed.
        """
    ),
    code(
        """
        def hand_made_tracks(x, y, depth, key):
            s = jnp.linspace(0.0, 1.0, depth + 1)[:, None, None]
            target = fr.assignment_map(x, y)  # y permuted so that x[i] -> target[i] is optimal
            straight = (1 - s) * x + s * target
            step = (target - x) / (depth // 2)
            layers = [x]
            for layer in range(depth):
                # move one coordinate per layer
                layers.append(layers[-1] + step * jnp.eye(2)[layer % 2])
            zigzag = jnp.stack(layers)
            wrong = (1 - s) * x + s * y[jr.permutation(key, y.shape[0])]
            return {"straight OT": fr.Tracks(straight), "zig-zag": fr.Tracks(zigzag), "wrong pairing": fr.Tracks(wrong)}


        def print_scores(scores):
            print(f"{'tracks':24s}{'LSS':>8s}{'cost ratio':>12s}{'kinetic':>10s}{'path ratio':>12s}{'speed cv':>10s}")
            for name, sc in scores.items():
                print(f"{name:24s}{float(sc.lss):8.4f}{float(sc.cost_ratio):12.4f}{float(sc.kinetic_ratio):10.4f}{float(sc.path_ratio):12.4f}{float(sc.speed_cv):10.4f}")
        """
    ),
    md(
        r"""
        ## 3 · Trained ResNets

        A ResNet of depth $L$ is the Euler broken line of a field (notebook 02).
        We train a `RidgeletField` (32 tanh units, parameters linear in $t$)
        with `fr.fit` using $L=8$ Euler steps, so that what is trained *is* the
        depth-8 ResNet `fr.euler_network(field, 8)`; the loss is the Sinkhorn
        divergence between the pushed source and the target (no pairing is
        given). Training starts from a random field, whose tracks are curved.
        Settings: no regulariser, and a kinetic-energy penalty
        $\lambda\int\|v\|^2$ (RNODE), whose minimiser *is* the geodesic;
        `main(quick=False)` adds weight decay, which Gai & Zhang claim pushes
        networks towards the geodesic.
        """
    ),
    code(
        """
        def train_step(x, y, depth, steps, key, weight_decay=True):
            init = fr.RidgeletField.random(key, dim=2, num_units=32, sigma="tanh", basis="linear", num_knots=3)
            settings = {"untrained (random)": None, "trained": dict()}
            if weight_decay:
                settings["+ weight decay"] = dict(weight_decay=1e-2)
            settings["+ kinetic penalty"] = dict(kinetic_reg=0.05)
            tracks, fits = {}, {}
            for name, extra in settings.items():
                field = init
                if extra is not None:
                    field, hist = fr.fit(init, x, y, key=key, steps=steps, learning_rate=3e-2, epsilon=0.5, progress=False, flow_kwargs=dict(solver="euler", num_steps=depth), **extra)
                    fits[name] = dict(final_loss=float(hist["loss"][-1]), final_data=float(hist["data"][-1]))
                resnet = fr.euler_network(field, depth)
                points = jnp.swapaxes(jax.vmap(resnet.tracks)(x), 0, 1)  # [L + 1, n, 2]
                tracks[name] = fr.Tracks(points)
                if extra is not None:
                    fits[name]["w2_to_target"] = float(fr.wasserstein2(tracks[name].target, y).distance)
            return tracks, fits
        """
    ),
    md(
        r"""
        ## `main`

        `main(quick=True)`: $n=256$ samples per cloud (exact OT throughout),
        $L=8$, 200 training steps per setting. `main(quick=False)`: $n=512$,
        800 steps, the weight-decay setting, and the $W_2$ table for $n$ up to 1024.
        """
    ),
    code(
        """
        def main(*, quick=True, seed=0, depth=8, show=True):
            start = time.perf_counter()
            n = 256 if quick else 512
            steps = 200 if quick else 800
            k_w2, k_data, k_perm, k_fit = jr.split(jr.PRNGKey(seed), 4)
            figures = {}
            w2 = w2_step(k_w2, (256,) if quick else (256, 512, 1024))
            x, y = clouds(k_data, n)
            tracks = hand_made_tracks(x, y, depth, k_perm)
            trained, fits = train_step(x, y, depth, steps, k_fit, weight_decay=not quick)
            tracks.update(trained)
            scores = {name: fr.score_tracks(tr) for name, tr in tracks.items()}
            print()
            print_scores(scores)
            for name, f in fits.items():
                print(f"{name:24s} final Sinkhorn divergence {f['final_data']:.4f}, W2(pushed source, target) = {f['w2_to_target']:.4f}")

            names = list(tracks)
            rows = (len(names) + 4) // 4  # one panel per set of tracks, plus the W2 profile
            fig, axes = plt.subplots(rows, 4, figsize=(15, 3.8 * rows))
            for ax, name in zip(axes.ravel(), names):
                fr.plot_tracks(tracks[name], max_tracks=40, ax=ax)
                ax.set_title(f"{name}: LSS {float(scores[name].lss):.3f}, kinetic {float(scores[name].kinetic_ratio):.3f}", fontsize=9)
                ax.legend().remove()
            profile_ax = axes.ravel()[len(names)]
            fr.plot_layer_w2(scores["trained"], ax=profile_ax)
            profile_ax.set_title("layer W2 profile of the trained ResNet", fontsize=9)
            for ax in axes.ravel()[len(names) + 1 :]:
                ax.axis("off")
            fig.tight_layout()
            figures["tracks"] = fig
            if show:
                plt.show()
            figures["scores"] = fr.plot_scores({k: scores[k] for k in names})
            figures["scores"].set_size_inches(10, 3.8)
            plt.gca().set_ylim(0.9, 2.2)
            plt.gca().legend(fontsize=7, ncol=2)
            if show:
                plt.show()
            summary = dict(
                w2=w2,
                scores={name: {k: v for k, v in sc.to_dict().items() if not isinstance(v, list)} for name, sc in scores.items()},
                fits=fits,
                seconds=time.perf_counter() - start,
            )
            print(f"main() took {summary['seconds']:.1f} s")
            return dict(summary=summary, figures=figures, tracks=tracks, scores=scores)
        """
    ),
    _run_cell(),
]


# --------------------------------------------------------------------------- 05

NB05: list[Cell] = [
    COLAB_CELL,
    md(
        r"""
        # 05 · Analyze your own network

        Notebooks 02–04 score tracks of flowrep's own fields. Here the network
        is an ordinary classifier whose widths change from layer to layer: an
        MLP 64→128→64→32→10 (ReLU) and a width-64 ResNet (8 blocks
        $x+\frac18W_2\,\mathrm{relu}(W_1x+b_1)$, linear head), trained in JAX
        (equinox + optax) on scikit-learn's digits, with and without weight
        decay. The same networks are in `examples/digits_networks.py`, which
        `flowrep analyze` runs from the command line.

        1. `fr.record_tracks(stages, x)` records the features after every stage
           (hidden activation or residual block) from the input to the logits:
           layers of widths 64, 128, 64, 32, 10 for the MLP.
        2. `fr.score_tracks` scores them in the **common embedding**: every layer
           zero-padded into $\mathbb R^{\max_l d_l}$ (Sonoda & Murata 2017,
           docs/theory/widths.md). LSS, cost ratio and the $W_2$ path ratio of
           Gai & Zhang (arXiv 2102.09235) then apply as in notebook 04. These
           depend on the coordinates of each layer.
        3. `fr.coordinate_free_scores` compares consecutive layers as
           metric-measure spaces with Gromov–Wasserstein distances (Mémoli
           2011; ott-jax's entropic GW solver): the GW path ratio
           $\sum_lGW(\mu_l,\mu_{l+1})/GW(\mu_0,\mu_L)$ and a distance-matrix
           straightness. These do not change when a layer's hidden units are
           permuted, which section 3 checks on the trained MLP.

        Everything runs in `main(**defaults)` at the end; `main(quick=False)`
        scores more held-out digits and uses more of them in the GW solves.
        """
    ),
    COLAB_MD,
    imports(
        "import equinox as eqx",
        "import optax",
        stdlib=("import collections", "import importlib.util"),
        x64=False,
    ),
    md(
        r"""
        ## 1 · Data and networks

        `load_digits`: 1797 images $8\times8$ scaled to $[0,1]$, split 75/25 by
        a seeded permutation. Each network is a list of stages (equinox
        modules), so its tracks are the features after each stage. Training:
        400 full-batch Adam steps (learning rate $3\cdot10^{-3}$) on
        cross-entropy, plus, for "wd", the L2 penalty
        $10^{-3}\sum\|W\|_F^2$ over all weight matrices. This is the code of
        `examples/digits_networks.py`, copied here so that the notebook runs
        on its own.
        """
    ),
    code(
        """
        MLP_WIDTHS = (64, 128, 64, 32, 10)
        RESNET_WIDTH, RESNET_DEPTH = 64, 8
        WEIGHT_DECAY = 1e-3


        def digits(seed=0):
            from sklearn.datasets import load_digits

            data = load_digits()
            x = (data.data / 16.0).astype(np.float32)
            y = data.target.astype(np.int32)
            perm = np.random.default_rng(seed).permutation(len(x))
            cut = int(0.75 * len(x))
            return x[perm[:cut]], y[perm[:cut]], x[perm[cut:]], y[perm[cut:]]


        class Block(eqx.Module):
            inner: eqx.nn.Linear
            outer: eqx.nn.Linear
            h: float = eqx.field(static=True)

            def __init__(self, width, h, *, key):
                k1, k2 = jr.split(key)
                self.inner = eqx.nn.Linear(width, width, key=k1)
                self.outer = eqx.nn.Linear(width, width, key=k2)
                self.h = h

            def __call__(self, x):
                return x + self.h * self.outer(jax.nn.relu(self.inner(x)))


        def make_stages(kind, key):
            if kind == "mlp":
                keys = jr.split(key, len(MLP_WIDTHS) - 1)
                lins = [eqx.nn.Linear(a, b, key=k) for a, b, k in zip(MLP_WIDTHS[:-1], MLP_WIDTHS[1:], keys)]
                return [eqx.nn.Sequential([lin, eqx.nn.Lambda(jax.nn.relu)]) for lin in lins[:-1]] + [lins[-1]]
            keys = jr.split(key, RESNET_DEPTH + 1)
            blocks = [Block(RESNET_WIDTH, 1.0 / RESNET_DEPTH, key=k) for k in keys[:-1]]
            return [*blocks, eqx.nn.Linear(RESNET_WIDTH, 10, key=keys[-1])]


        def forward(stages, x):
            for stage in stages:
                x = stage(x)
            return x


        def l2(stages):
            lins = jax.tree_util.tree_leaves(stages, is_leaf=lambda m: isinstance(m, eqx.nn.Linear))
            return sum((jnp.sum(m.weight**2) for m in lins if isinstance(m, eqx.nn.Linear)), jnp.zeros(()))


        def train(kind, weight_decay, data, seed=0, steps=400):
            xtr, ytr, xte, yte = data
            stages = make_stages(kind, jr.key(seed))
            opt = optax.adam(3e-3)

            def loss(model):
                logits = jax.vmap(lambda v: forward(model, v))(xtr)
                return optax.softmax_cross_entropy_with_integer_labels(logits, ytr).mean() + weight_decay * l2(model)

            @eqx.filter_jit
            def run(model):
                params, static = eqx.partition(model, eqx.is_array)

                def step(carry, _):
                    p, s = carry
                    g = eqx.filter_grad(loss)(eqx.combine(p, static))
                    upd, s = opt.update(eqx.filter(g, eqx.is_array), s, p)
                    return (eqx.apply_updates(p, upd), s), None

                (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
                return eqx.combine(params, static)

            stages = run(stages)
            accuracy = float(jnp.mean(jnp.argmax(jax.vmap(lambda v: forward(stages, v))(xte), -1) == yte))
            return stages, accuracy
        """
    ),
    md(
        r"""
        ## 2 · Tracks and scores

        `fr.record_tracks(stages, x)` returns `fr.Tracks` with one `(n, d_l)`
        array per layer (input, each stage's output). `fr.score_tracks` pads
        them into $\mathbb R^{128}$ for the MLP (all ResNet layers but the
        logits already have width 64). `fr.coordinate_free_scores` runs one GW
        solve per step on a random subset of `gw_samples` digits (the same in
        every layer), and reports whether every solve met its tolerance
        (`converged`).
        """
    ),
    code(
        """
        def analyze(stages, x, gw_samples):
            tracks = fr.record_tracks(stages, x)
            return tracks, fr.score_tracks(tracks), fr.coordinate_free_scores(tracks, max_samples=gw_samples)


        def print_table(rows):
            print(f"{'network':14s}{'acc':>7s}{'LSS':>8s}{'cost':>8s}{'W2 path':>9s}{'GW path':>9s}{'dm str.':>9s}  GW converged")
            for name, r in rows.items():
                print(f"{name:14s}{r['accuracy']:7.3f}{r['lss']:8.3f}{r['cost_ratio']:8.3f}{r['path_ratio']:9.3f}{r['gw_path_ratio']:9.4f}{r['dm_straightness']:9.4f}  {r['gw_converged']}")
        """
    ),
    md(
        r"""
        ## 3 · Permuting hidden units: which scores are coordinate-free

        Permuting the 128 units of the MLP's first hidden layer (the rows of
        $W_1,b_1$ and the columns of $W_2$) leaves the network's function
        unchanged. Its tracks are the same points with the coordinates of
        layer 1 permuted. In the common embedding a permuted layer sits
        elsewhere in $\mathbb R^{128}$ relative to its zero-padded neighbours,
        so LSS and the $W_2$ steps into and out of it change. The GW
        distances and distance matrices do not change, up to the solver
        tolerance. (A positive rescaling of each ReLU unit also keeps the
        function, but it is not an isometry of the layer, so the
        coordinate-free scores do change under it.)
        """
    ),
    code(
        """
        def permute_first_hidden(stages, key):
            lin1, lin2 = stages[0].layers[0], stages[1].layers[0]
            perm = jr.permutation(key, lin1.out_features)
            lin1 = eqx.tree_at(lambda m: (m.weight, m.bias), lin1, (lin1.weight[perm], lin1.bias[perm]))
            lin2 = eqx.tree_at(lambda m: m.weight, lin2, lin2.weight[:, perm])
            stages = eqx.tree_at(lambda s: s[0].layers[0], stages, lin1)
            return eqx.tree_at(lambda s: s[1].layers[0], stages, lin2)


        def permutation_check(stages, x, gw_samples, key, s0, c0):
            # scores of `stages` with permuted first hidden units, against `s0, c0` of the original
            permuted = permute_first_hidden(stages, key)
            out_change = float(jnp.max(jnp.abs(jax.vmap(lambda v: forward(permuted, v))(x) - jax.vmap(lambda v: forward(stages, v))(x))))
            _, s1, c1 = analyze(permuted, x, gw_samples)

            def rel(a, b):
                a, b = jnp.asarray(a), jnp.asarray(b)
                return float(jnp.max(jnp.abs(a - b) / jnp.abs(a)))

            check = dict(
                output_change=out_change,
                lss_change=rel(s0.lss, s1.lss),
                layer_w2_change=rel(s0.layer_w2, s1.layer_w2),
                layer_gw_change=rel(c0.layer_gw, c1.layer_gw),
                dm_change=rel(c0.layer_dm, c1.layer_dm),
            )
            print(f"permuted first hidden layer: max |logits change| {check['output_change']:.1e}")
            print(f"  common embedding, relative change: LSS {check['lss_change']:.3f}, per-step W2 {check['layer_w2_change']:.3f}")
            print(f"  coordinate-free, relative change:  per-step GW {check['layer_gw_change']:.1e}, distance matrices {check['dm_change']:.1e}")
            return check
        """
    ),
    md(
        r"""
        ## 4 · The same MLP in PyTorch (when torch is installed)

        With `flowrep[torch]` installed, the trained MLP written as a
        `torch.nn.Sequential` with copied weights gives the same tracks through
        forward hooks on its activation modules: `fr.record_tracks(net, x,
        stages=["act1", "act2", "act3"])`. Without torch this step is skipped.
        """
    ),
    code(
        """
        def torch_check(stages, x):
            if importlib.util.find_spec("torch") is None:
                print("torch is not installed: PyTorch check skipped")
                return None
            import torch

            layers = {}
            lins = [s.layers[0] for s in stages[:-1]] + [stages[-1]]
            for i, lin in enumerate(lins, start=1):
                fc = torch.nn.Linear(lin.in_features, lin.out_features)
                with torch.no_grad():
                    fc.weight.copy_(torch.from_numpy(np.array(lin.weight)))
                    fc.bias.copy_(torch.from_numpy(np.array(lin.bias)))
                layers[f"fc{i}"] = fc
                if i < len(lins):
                    layers[f"act{i}"] = torch.nn.ReLU()
            net = torch.nn.Sequential(collections.OrderedDict(layers))
            t_torch = fr.record_tracks(net, x, stages=["act1", "act2", "act3"])
            t_jax = fr.record_tracks(stages, x)
            diff = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(t_torch.layers(), t_jax.layers()))
            print(f"PyTorch copy: max |feature difference| over all layers {diff:.1e}")
            return diff
        """
    ),
    md(
        r"""
        ## `main`

        `main(quick=True)`: the four networks (seed 0), tracks of $n=128$
        held-out digits, GW on 64 of them, the permutation check. `main(quick=False)`:
        $n=400$ digits, GW on 200. The figures: the per-step $W_2$ in the common
        embedding and the per-step GW of each network (log scale; both in the
        units of the features, which grow with depth, and GW in squared
        units), and the histograms of the per-digit line-shape score.

        **Reading the numbers** (seed 0, the defaults; the README's table has
        seeds 0–2 at $n=200$ and the same pattern). The MLP's tracks are far
        from straight in the common embedding (LSS about 3.6–3.9, $W_2$ path
        ratio about 3–4): its zero-padded layers of widths 128, 64, 32, 10
        occupy different coordinates. The ResNet's hidden layers share one
        space and its tracks are much straighter (LSS about 1.3–1.5, path ratio
        1.4–2.0). Weight decay lowers the $W_2$ path ratio of both and the
        ResNet's LSS, as Gai & Zhang's claim predicts, but it *raises* the MLP's
        LSS. The coordinate-free GW path ratio is between 1.00 and 1.05 for all
        four networks, lowest with weight decay. With 64 digits in the GW solves it
        hardly separates the networks. The entropic GW solves do not all meet their
        tolerance at the default iteration budget (`GW converged: False`),
        so treat the GW columns as approximate. The permutation check behaves as the
        theory says: the logits agree to float32 rounding, the per-step GW
        distances agree to the solver tolerance (relative change about
        $10^{-5}$), and the distance matrices agree exactly. The embedded scores
        change, but only by about 1% here. The PyTorch copy, where torch is installed,
        gives the same features. These results come from one small data set and a few seeds.
        They are not evidence for or against the geodesic principle in general.
        """
    ),
    code(
        """
        def main(*, quick=True, seed=0, steps=400, show=True):
            start = time.perf_counter()
            n, gw_samples = (128, 64) if quick else (400, 200)
            data = digits(seed)
            x = data[2][:n]
            rows, scores, coordfree, nets = {}, {}, {}, {}
            for kind in ("mlp", "resnet"):
                for wd in (0.0, WEIGHT_DECAY):
                    name = kind + (" + wd" if wd else "")
                    stages, accuracy = train(kind, wd, data, seed=seed, steps=steps)
                    tracks, sc, cf = analyze(stages, x, gw_samples)
                    nets[name], scores[name], coordfree[name] = stages, sc, cf
                    rows[name] = dict(
                        accuracy=accuracy,
                        widths=[int(w) for w in tracks.widths],
                        lss=float(sc.lss),
                        cost_ratio=float(sc.cost_ratio),
                        path_ratio=float(sc.path_ratio),
                        gw_path_ratio=float(cf.gw_path_ratio),
                        dm_straightness=float(cf.dm_straightness),
                        gw_converged=bool(cf.converged),
                    )
            print(f"widths: MLP {rows['mlp']['widths']}, ResNet {rows['resnet']['widths']}")
            print_table(rows)
            print()
            permutation = permutation_check(nets["mlp"], x, gw_samples, jr.key(seed + 1), scores["mlp"], coordfree["mlp"])
            torch_diff = torch_check(nets["mlp"], x)

            figures = {}
            fig, (ax_w2, ax_gw) = plt.subplots(1, 2, figsize=(11, 3.6))
            for name in rows:
                w2 = np.asarray(scores[name].layer_w2)
                gw = np.asarray(coordfree[name].layer_gw)
                ax_w2.plot(np.arange(1, len(w2) + 1), w2, "o-", label=name)
                ax_gw.plot(np.arange(1, len(gw) + 1), gw, "o-", label=name)
            ax_w2.set_title(r"per-step $W_2(\\mu_{l-1},\\mu_l)$, common embedding", fontsize=9)
            ax_gw.set_title(r"per-step $GW(\\mu_{l-1},\\mu_l)$, coordinate-free", fontsize=9)
            for ax in (ax_w2, ax_gw):
                ax.set_yscale("log")
                ax.set_xlabel("layer l")
                ax.legend(fontsize=8)
            fig.tight_layout()
            figures["profiles"] = fig
            if show:
                plt.show()
            fig, axes = plt.subplots(1, 4, figsize=(13, 2.8), sharey=True)
            for ax, name in zip(axes, rows):
                lss = np.asarray(scores[name].lss_per_sample)
                ax.hist(lss, bins=30, color="C0" if name.startswith("mlp") else "C1")
                ax.axvline(1.0, color="k", ls="--", lw=1)
                ax.set_title(f"{name}: LSS {rows[name]['lss']:.2f}", fontsize=9)
                ax.set_xlabel("per-digit LSS (1 = straight)")
            fig.tight_layout()
            figures["lss"] = fig
            if show:
                plt.show()
            summary = dict(rows=rows, permutation=permutation, torch_max_diff=torch_diff, n=n, gw_samples=gw_samples, seconds=time.perf_counter() - start)
            print(f"main() took {summary['seconds']:.1f} s")
            return dict(summary=summary, figures=figures, nets=nets, scores=scores, coordinate_free=coordfree)
        """
    ),
    _run_cell(),
]


# --------------------------------------------------------------------------- build

NOTEBOOKS: dict[str, list[Cell]] = {
    "01_ridgelet_transform": NB01,
    "02_flows_and_resnet_depth": NB02,
    "03_dae_transport_entropy": NB03,
    "04_geodesics_and_scores": NB04,
    "05_analyze_your_network": NB05,
}


def _format(src: str) -> str:
    """Format a code cell with the repository's ruff settings (unchanged if ruff is missing)."""
    try:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "ruff",
                "format",
                "--stdin-filename",
                "cell.py",
                "-",
            ],
            input=src,
            capture_output=True,
            text=True,
            check=True,
            cwd=HERE.parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return src
    return out.stdout.rstrip("\n")


def build(name: str, cells: list[Cell]):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(src)
        if kind == "md"
        else nbformat.v4.new_code_cell(_format(src))
        for kind, src in cells
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def execute(nb, timeout: int = 600):
    from nbclient import NotebookClient

    os.environ["JAX_PLATFORMS"] = "cpu"
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(HERE)}},
    )
    client.execute()
    return nb


def main(argv=None) -> None:
    import nbformat

    parser = argparse.ArgumentParser(
        description=(__doc__ or "Build the notebooks.").splitlines()[0]
    )
    parser.add_argument(
        "names", nargs="*", help="notebook prefixes such as 01 (default: all)"
    )
    parser.add_argument(
        "--no-execute", action="store_true", help="write the notebooks without outputs"
    )
    args = parser.parse_args(argv)
    chosen = [
        n
        for n in NOTEBOOKS
        if not args.names or any(n.startswith(p) for p in args.names)
    ]
    if not chosen:
        sys.exit(
            f"no notebook matches {args.names}; expected prefixes of {list(NOTEBOOKS)}"
        )
    for name in chosen:
        nb = build(name, NOTEBOOKS[name])
        path = HERE / f"{name}.ipynb"
        if not args.no_execute:
            start = time.perf_counter()
            execute(nb)
            print(f"{name}: executed in {time.perf_counter() - start:.1f} s")
        nbformat.validate(nb)
        nbformat.write(nb, str(path))
        print(f"{name}: wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
