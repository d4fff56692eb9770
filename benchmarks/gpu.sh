#!/usr/bin/env bash
# The GPU comparison of issue 19 in one script, written to fit in < 8 minutes
# on one A100/H100-class GPU (each step has its own time limit, so the total
# is bounded: 150 + 180 + 120 s of runs plus start-up), with a JSON summary:
#
#   1. ridgelet.py: R/S pairs per second and the fraction of the device's
#      FP32 peak (n = J in {1e4, 1e5}, m in {2, 16, 128});
#   2. flow.py:     flowrep.flow vs plain diffrax (same solver and controller)
#      and torchdiffeq on the same GPU (FP32 and TF32 rows), J = 256, n = 4096,
#      m in {2, 64}, forward and forward+backward;
#   3. scores.py:   Sinkhorn, flowrep vs ott-jax and POT-torch on the same GPU
#      (n in {1e4, 3e4}, d in {2, 64}).
#
# usage: benchmarks/gpu.sh [--cpu-smoke] [OUTDIR]    (default OUTDIR: gpu-results)
#
# --cpu-smoke runs every step on the CPU at toy sizes (a minute or two of
# runs, plus compilation), so the script itself is exercised where there is no
# GPU; its numbers mean nothing. Without it the script refuses to run unless
# JAX sees a GPU. GPU numbers in benchmarks/README.md are unmeasured until
# someone runs this on a GPU.
set -uo pipefail

smoke=0
if [[ "${1:-}" == "--cpu-smoke" ]]; then
    smoke=1
    shift
fi
out=${1:-gpu-results}
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-python}
mkdir -p "$out"
# JAX would otherwise take 75 % of the GPU, starving torch in the same run.
export XLA_PYTHON_CLIENT_PREALLOCATE=false

if [[ $smoke == 1 ]]; then
    export JAX_PLATFORMS=cpu
    ridgelet_args=(--sizes 1000 --dims 2 --repeat 1)
    flow_args=(--n 128 --dims 2 --repeat 1)
    scores_args=(--sizes 300 --dims 2 --no-exact)
    limits=(300 600 300)
else
    if ! "$py" -c 'import jax, sys; sys.exit(jax.default_backend() != "gpu")'; then
        echo "gpu.sh: JAX sees no GPU (use --cpu-smoke to exercise the script on a CPU)" >&2
        exit 2
    fi
    ridgelet_args=(--sizes 10000 100000 --dims 2 16 128 --repeat 3)
    flow_args=(--dims 2 64 --repeat 5)
    scores_args=(--sizes 10000 30000 --dims 2 64 --no-exact)
    limits=(150 180 120)
fi

status=()
run_step() {  # name limit args...
    local name=$1 limit=$2
    shift 2
    local t0=$SECONDS
    timeout "$limit" "$py" "$here/$name.py" "$@" --json "$out/$name.json" \
        > "$out/$name.txt" 2>&1
    local rc=$?
    status+=("$name:$rc:$((SECONDS - t0))")
    echo "# $name: exit $rc after $((SECONDS - t0)) s (log $out/$name.txt)"
}

run_step ridgelet "${limits[0]}" "${ridgelet_args[@]}"
run_step flow "${limits[1]}" "${flow_args[@]}"
run_step scores "${limits[2]}" "${scores_args[@]}"

"$py" - "$out" "$smoke" "${status[@]}" <<'PY'
import json, os, sys

out, smoke, steps = sys.argv[1], sys.argv[2] == "1", sys.argv[3:]
summary = {"cpu_smoke": smoke, "steps": {}}
try:
    import jax

    dev = jax.devices()[0]
    summary["device"] = f"{dev.platform}: {dev.device_kind}"
    summary["jax"] = jax.__version__
except Exception as err:  # the summary is written whatever failed
    summary["device"] = f"unknown ({err})"
for item in steps:
    name, rc, secs = item.split(":")
    entry = {"exit": int(rc), "seconds": int(secs), "timed_out": rc in ("124", "137")}
    path = os.path.join(out, f"{name}.json")
    if os.path.exists(path):
        with open(path) as fh:
            entry["results"] = json.load(fh)
    summary["steps"][name] = entry
tmp = os.path.join(out, "summary.json.tmp")
with open(tmp, "w") as fh:
    json.dump(summary, fh, indent=1)
os.replace(tmp, os.path.join(out, "summary.json"))
print("# wrote", os.path.join(out, "summary.json"))
PY
for item in "${status[@]}"; do
    [[ ${item#*:} == 0:* ]] || exit 1
done
