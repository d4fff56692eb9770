"""The `flowrep` command: `flowrep demo`, `flowrep reproduce NAME`."""

import argparse
import os
import sys
import time

from .._io import Terminated
from ._console import print_table
from ._jobs import JOBS
from ._report import atomic_report, CLIError, Report


def _demo(report: Report, args) -> None:
    from ._demo import run_demo

    t = time.perf_counter()
    report.data.update(run_demo(report, quick=not args.full, seed=args.seed))
    report.data["seconds"] = time.perf_counter() - t
    d = report.data
    print()
    print(
        f"flow (held-out samples): W2(moons, N(0,I)) = {d['flow']['w2_source_to_target']:.3f} -> W2(flowed moons, N(0,I)) = "
        f"{d['flow']['w2_flowed_to_target']:.3f} (two independent Gaussian samples: {d['flow']['w2_gaussian_sample_to_target']:.3f})"
    )
    print(
        f"gradient flow? curl fraction {d['flow']['curl_fraction']:.3g}, non-gradient fraction "
        f"{d['flow']['non_gradient_fraction']:.3g} (0 for v_t = grad phi_t)"
    )
    s = d["scores"]
    print(
        f"flow transport scores: LSS {s['lss']:.3f}  cost ratio {s['cost_ratio']:.3f}  kinetic ratio {s['kinetic_ratio']:.3f}  path ratio {s['path_ratio']:.3f}"
    )
    print()
    print_table(
        d["depth_sweep"]["rows"],
        [
            "L",
            "rms_error_to_flow",
            "w2_to_target",
            "lss",
            "cost_ratio",
            "kinetic_ratio",
            "path_ratio",
        ],
    )
    sweep = d["depth_sweep"]
    print(
        f"ResNet(L) -> flow: log-log slope {sweep['loglog_slope']:.2f} (claim O(1/L): {'reproduced' if sweep['reproduced'] else 'NOT reproduced'})"
    )
    e = d["entropy"]
    print(
        f"entropy (k-NN) along the flow: {e['knn'][0]:.3f} -> {e['knn'][-1]:.3f} (N(0, I): {e['gaussian_closed_form']:.3f} exact, {e['gaussian_knn_same_n']:.3f} by k-NN at the same n)"
    )
    f = d["flow"]
    print(
        f"held-out entropy (k-NN): {f['entropy_ratio_held_out_mean']:.1%} of the target's "
        f"(mean over {len(f['entropy_held_out_samples'])} held-out samples; one pair: "
        f"{f['entropy_ratio_held_out']:.1%}; goal within 5%)"
    )
    print(f"done in {d['seconds']:.0f} s")


REPRODUCTIONS = tuple(JOBS)


def _reproduce(report: Report, args) -> None:
    job = JOBS[args.name]
    report.data.update(job.run(report, quick=not args.full, seed=args.seed))
    job.show(report)


def _bench(args) -> int:
    from ._bench import run_bench, run_scaling

    if args.devices is not None:
        return run_scaling(args.devices, quick=not args.full, real=args.mesh == "real")

    table = run_bench(quick=not args.full)
    print()
    print_table(
        table, ["benchmark", "config", "flowrep", "peer", "peer_result", "ratio"]
    )
    print(
        "ratio = peer time / flowrep time (or flowrep throughput / peer throughput); > 1 means flowrep is faster"
    )
    return 0


def _int_arg(minimum: int, maximum: int | None = None):
    """An argparse `type`: an integer in [minimum, maximum] (argparse names the option)."""

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"invalid int value: {text!r} (expected an integer >= {minimum})"
            ) from None
        if value < minimum or (maximum is not None and value > maximum):
            bound = (
                f"in [{minimum}, {maximum}]" if maximum is not None else f">= {minimum}"
            )
            raise argparse.ArgumentTypeError(
                f"expected an integer {bound}; got {value}"
            )
        return value

    parse.__name__ = "integer"  # argparse's "invalid integer value" wording
    return parse


_SEED = _int_arg(0, 2**32 - 1)  # a PRNG seed: jax.random.key takes uint32


def _version() -> str:
    import flowrep

    return flowrep.__version__


def _analyze_arguments(ana: argparse.ArgumentParser) -> None:
    ana.add_argument(
        "target",
        metavar="MODULE:FUNCTION",
        help="a function (in a module or a .py file) returning (model, samples)",
    )
    ana.add_argument("--data", default=None, help=".npy/.npz samples to use instead")
    ana.add_argument(
        "--max-samples", type=_int_arg(2), default=1000, help="default 1000"
    )
    ana.add_argument(
        "--project",
        type=_int_arg(1),
        default=None,
        metavar="WIDTH",
        help="PCA-project wider layers to WIDTH for the embedded scores",
    )
    ana.add_argument(
        "--gw-samples",
        type=_int_arg(2),
        default=256,
        help="samples in the Gromov-Wasserstein solves (default 256)",
    )
    ana.add_argument(
        "--devices",
        type=_int_arg(1),
        default=None,
        metavar="N",
        help="run the model's forward passes and the transport scores sharded over the first N devices (a 'data' mesh)",
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="flowrep",
        description="Deep networks as transport: ridgelet spectra, flows and OT scores.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="the end-to-end example (small and CPU-friendly by default)"
    )
    rep = sub.add_parser(
        "reproduce",
        help="reproduce a paper result",
        epilog="jobs:\n"
        + "\n".join(f"  {j.name:<20} {j.description}" for j in JOBS.values()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench = sub.add_parser(
        "bench",
        help="run the benchmarks (flowrep vs NumPy, torchdiffeq, POT) and print one table",
    )
    bmode = bench.add_mutually_exclusive_group()
    bmode.add_argument("--quick", action="store_true", help="small sizes (default)")
    bmode.add_argument(
        "--full", action="store_true", help="the sizes quoted in the README"
    )
    bench.add_argument(
        "--devices",
        type=_int_arg(1),
        default=None,
        metavar="N",
        help="run benchmarks/scaling.py instead: strong/weak scaling over 1, 2, 4, ... N devices",
    )
    bench.add_argument(
        "--mesh",
        choices=("fake", "real"),
        default="fake",
        help="with --devices: fake CPU devices (default; shows overhead, not speed-up) or the real ones",
    )
    ana = sub.add_parser(
        "analyze", help="the transport picture of your own network (MODULE:FUNCTION)"
    )
    _analyze_arguments(ana)
    rep.add_argument("name", metavar="NAME", help=f"one of: {', '.join(REPRODUCTIONS)}")
    for q in (demo, rep, ana):
        q.add_argument(
            "--out",
            default=None,
            help="output directory: a new path or a previous flowrep report, which is "
            "replaced (default: ./flowrep-out/<job>); any other non-empty "
            "directory is refused",
        )
        if q is not ana:
            mode = q.add_mutually_exclusive_group()
            mode.add_argument(
                "--quick", action="store_true", help="small sizes (default)"
            )
            mode.add_argument(
                "--full", action="store_true", help="paper-sized runs (slower)"
            )
        q.add_argument(
            "--seed",
            type=_SEED,
            default=0,
            help="random seed in [0, 2**32) (default 0)",
        )
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as e:  # argparse already printed one line of usage + error
        return int(e.code or 0)
    try:
        if args.command == "bench":
            return _bench(args)
        if args.command == "demo":
            job, title, name = _demo, "flowrep demo", "demo"
        elif args.command == "analyze":
            from ._analyze import run_analyze

            job, title, name = run_analyze, f"flowrep analyze {args.target}", "analyze"
        else:
            if args.name not in REPRODUCTIONS:
                raise CLIError(
                    f"unknown reproduction {args.name!r}; expected one of: {', '.join(REPRODUCTIONS)}"
                )
            job, title, name = _reproduce, f"flowrep reproduce {args.name}", args.name
        if args.out is None:
            out = os.path.join("flowrep-out", name)
            try:
                os.makedirs("flowrep-out", exist_ok=True)
            except OSError as e:
                raise CLIError(
                    f"cannot create the default output directory ./flowrep-out: {e.strerror}"
                ) from None
        else:
            out = args.out
        with atomic_report(out, title, job=name) as report:
            report.data["job"] = name
            report.data["seed"] = args.seed
            report.data["mode"] = "full" if getattr(args, "full", False) else "quick"
            job(report, args)
        print(f"\nwrote {os.path.abspath(out)}/ (report.json, index.html, figures)")
        return 0
    except CLIError as e:
        print(f"flowrep: error: {e}", file=sys.stderr)
        return 2
    except Terminated as e:
        print(f"flowrep: {e}; no output written", file=sys.stderr)
        return 128 + e.signum
    except KeyboardInterrupt:
        print("flowrep: interrupted; no output written", file=sys.stderr)
        return 130
    except Exception as e:
        if os.environ.get("FLOWREP_DEBUG"):
            raise
        print(
            f"flowrep: error: {type(e).__name__}: {e} (no output written; set FLOWREP_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return 1
