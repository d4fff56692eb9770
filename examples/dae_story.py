"""Denoising autoencoders as transport (Sonoda & Murata), in pictures.

On a 2-D Gaussian mixture: the shallow DAE vs the deep DAE (the flow
x' = grad log mu_t), their displacement fields and a trained MLP DAE, the
entropy along the deep flow by three estimates, and the "deeper converges
faster" table of L stacked DAEs. Writes PNGs and dae_story.json to --out.

    python examples/dae_story.py --out /tmp/dae --quick
"""

import argparse
import json
import os

import jax
import jax.random as jr

import flowrep as fr


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", required=True, help="output folder for the PNGs and dae_story.json"
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (about a minute on a CPU)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--progress", action="store_true", help="show training progress bars"
    )
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    story = fr.dae_story(
        quick=args.quick,
        key=jr.PRNGKey(args.seed),
        progress=args.progress,
        figures=True,
    )
    # the library computes and draws; writing the files is up to the caller
    os.makedirs(args.out, exist_ok=True)
    files = []
    for name, fig in story["figures"].items():
        fig.savefig(os.path.join(args.out, name), dpi=110)
        files.append(name)
    summary = {k: v for k, v in story.items() if k not in ("arrays", "figures")}
    summary["files"] = sorted(files) + ["dae_story.json"]
    with open(os.path.join(args.out, "dae_story.json"), "w") as fh:
        json.dump(summary, fh, indent=2)
    print(
        json.dumps(
            {
                k: v
                for k, v in summary.items()
                if k in ("t", "collapse_time", "learned_relative_error", "files")
            },
            indent=2,
        )
    )
    for row in summary["depth_table_gaussian"]["rows"]:
        print(
            f"L={row['num_layers']:3d}  W2 to deep limit = {row['w2_to_deep']:.5f}  entropy = {row['entropy']:.5f}  (deep {row['entropy_deep']:.5f})"
        )


if __name__ == "__main__":
    main()
