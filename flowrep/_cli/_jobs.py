"""The `flowrep reproduce` jobs: one table from name to function, description and output.

A job is a function `job(report, **options) -> dict` in a module of this
package; it returns JSON-able results and adds figures and sections to the
`Report`. The table names it by module and function and imports it only when
it runs, so `flowrep --help` stays fast and the job's module can be patched.
"""

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any

from ._console import print_table, print_verdicts
from ._report import Report


@dataclasses.dataclass(frozen=True)
class Job:
    """One reproduction.

    - `name`: the command-line name (`flowrep reproduce NAME`).
    - `description`: one line for `--help`.
    - `module`, `function`: where the job lives (`flowrep._cli.<module>`).
    - `options`: which of `quick` and `seed` the function takes.
    - `sections`: headings of the report sections it writes.
    - `show`: prints the job's results to the terminal after it ran.
    """

    name: str
    description: str
    module: str
    function: str
    options: tuple[str, ...]
    sections: tuple[str, ...]
    show: Callable[[Report], None]

    def run(self, report: Report, *, quick: bool, seed: int) -> dict[str, Any]:
        """Import the job, run it on `report` and return its results."""
        fn = getattr(
            importlib.import_module(f"{__package__}.{self.module}"), self.function
        )
        given = dict(quick=quick, seed=seed)
        return fn(report, **{k: given[k] for k in self.options})


def _show_acha(report: Report) -> None:
    print_table(
        report.data["pairs"],
        [
            "activation",
            "ridgelet",
            "status",
            "pairing",
            "sup_error_inner",
            "reconstructs",
        ],
    )


def _show_table5(report: Report) -> None:
    for heading in JOBS["admissibility-table"].sections:
        print(report.section_text(heading))
        print()


def _show_ghosts(report: Report) -> None:
    print_table(
        report.data["rows"],
        ["k", "status", "pairing", "raw_max_abs", "spectrum_max_abs"],
    )


def _show_li_shi(report: Report) -> None:
    print_table(report.data["rows"], ["n", "depth", "max_error", "rms_error"])
    print_verdicts(report.data)


def _show_gai_zhang(report: Report) -> None:
    for name, ds in report.data["datasets"].items():
        print(f"\n{name}:")
        print_table(
            ds["table"],
            ["model", "accuracy", "lss", "cost_ratio", "kinetic_ratio", "path_ratio"],
        )
    print_verdicts(report.data)


def _show_gradient_flow(report: Report) -> None:
    print_verdicts(report.data)


def _show_dae(report: Report) -> None:
    for name, sweep in report.data["l_sweep"].items():
        print(f"\n{name}:")
        keys = ("L", "distance", "entropy", "entropy_deep")
        print_table(sweep["rows"], [k for k in keys if k in sweep["rows"][0]])
    print_verdicts(report.data)


JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job(
            "acha-1d",
            "ACHA section 7: sin 2 pi x rebuilt from its ridgelet spectrum, for admissible pairs and ghosts",
            "_ridgelet_jobs",
            "acha_1d",
            ("quick",),
            (),
            _show_acha,
        ),
        Job(
            "admissibility-table",
            "ACHA Table 5: the admissibility pattern of activations and ridgelets, m = 1, 2",
            "_ridgelet_jobs",
            "table5",
            (),
            ("ACHA Table 5, m = 1", "ACHA Table 5, m = 2"),
            _show_table5,
        ),
        Job(
            "ghosts",
            "tanh with even Gaussian-derivative ridgelets: the pairing vanishes and S[R f] ~ 0",
            "_ridgelet_jobs",
            "ghosts",
            ("quick",),
            (),
            _show_ghosts,
        ),
        Job(
            "li-shi",
            "Li & Shi: a plain net is a glued flow; n Euler steps per piece refine it at O(1/n)",
            "_li_shi",
            "li_shi",
            ("quick", "seed"),
            ("Li & Shi: plain nets as flows",),
            _show_li_shi,
        ),
        Job(
            "gai-zhang",
            "Gai & Zhang: with weight decay, trained ResNets' tracks approach the W2 geodesic",
            "_gai_zhang",
            "gai_zhang",
            ("quick", "seed"),
            ("Gai & Zhang: do trained ResNets learn the Wasserstein geodesic?",),
            _show_gai_zhang,
        ),
        Job(
            "dae",
            "Sonoda & Murata: the deep DAE decreases entropy; deeper stacks converge faster",
            "_dae_job",
            "dae",
            ("quick", "seed"),
            ("Denoising autoencoders as transport",),
            _show_dae,
        ),
        Job(
            "gradient-flow",
            "Three aspects: the deep DAE as a Wasserstein gradient flow, reversed by the heat flow (JKO too)",
            "_gradient_flow_job",
            "gradient_flow_job",
            ("quick", "seed"),
            ("Three aspects: the deep DAE as a Wasserstein gradient flow",),
            _show_gradient_flow,
        ),
    )
}
