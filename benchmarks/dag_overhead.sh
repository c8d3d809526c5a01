#!/usr/bin/env bash
# Snakemake's own overhead: how long scheduling takes before any job runs.
#
#     bash benchmarks/dag_overhead.sh            # each case timed 3 times, best reported
#     bash benchmarks/dag_overhead.sh --quick    # each case once
#
# Cases (all with --profile workflow/profiles/local, from the repository root):
#   1. a no-op run on the quickstart results: `snakemake` when everything is up to date. It is
#      run for real only if a dry run first says there is nothing to do (so this script never
#      trains anything); otherwise the table says how many jobs are pending and times the dry
#      run instead (run the quickstart first with `make run`).
#   2. the dry run of the CIFAR-10 grid, as experiments/cifar10.yaml says to launch it
#      (`-n --replace-workflow-config --configfile experiments/cifar10.yaml`); if that file is
#      missing, the quickstart config with 20 seeds instead, and the table says so.
#   3. the dry run of the quickstart config scaled up to 20 seeds (config.yaml plus a small
#      config file with `seeds: [0, ..., 19]`): how the DAG's size moves the overhead.
# Seconds are wall-clock of the whole snakemake process (Python start-up, parsing, config
# validation, DAG, file checks), best of the repeats; the machine may be shared, so compare
# rows from one run.
set -euo pipefail

cd "$(dirname "$0")/.."
repeats=3
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) repeats=1 ;;
        --repeats) repeats="$2"; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
if [[ -x .venv/bin/snakemake ]]; then PATH="$PWD/.venv/bin:$PATH"; fi
profile=(--profile workflow/profiles/local)
log=$(mktemp)
seeds_file=$(mktemp --suffix=.yaml)
trap 'rm -f "$log" "$seeds_file"' EXIT
# (--config seeds=[...] would pass the seeds as strings, which the schema rejects.)
echo "seeds: [$(seq -s ', ' 0 19)]" >"$seeds_file"
seeds20=(--configfile config.yaml "$seeds_file")

# Jobs a dry run would schedule (0 when nothing is to be done).
pending_jobs() {
    snakemake "${profile[@]}" -n "$@" >"$log" 2>&1 || { echo "error"; return; }
    if grep -q "Nothing to be done" "$log"; then echo 0; return; fi
    awk '$1 == "total" {print $2; found=1; exit} END {if (!found) print "?"}' "$log"
}

# Best wall-clock seconds of `snakemake <args>` over the repeats.
best_seconds() {
    local best="" start end took
    for _ in $(seq "$repeats"); do
        start=$(date +%s.%N)
        snakemake "${profile[@]}" "$@" >"$log" 2>&1 || { echo "failed"; return; }
        end=$(date +%s.%N)
        took=$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')
        best=$(awk -v t="$took" -v b="$best" 'BEGIN {print (b == "" || t < b) ? t : b}')
    done
    printf "%.2f" "$best"
}

rows=()
add_row() { rows+=("$(printf "%-44s %6s %9s  %s" "$1" "$2" "$3" "$4")"); }

# 1. quickstart no-op
notes=()
if [[ -f results/quickstart/summary.csv ]]; then
    jobs=$(pending_jobs)
    if [[ "$jobs" == 0 ]]; then
        add_row "quickstart, no-op run (up to date)" 0 "$(best_seconds)" "snakemake"
    else
        add_row "quickstart, dry run ($jobs jobs pending)" "$jobs" "$(best_seconds -n)" \
            "snakemake -n"
        notes+=("quickstart results exist but are not up to date ($jobs jobs pending), so the"
                "no-op run was not timed; run \`make run\`, then this script again.")
    fi
else
    jobs=$(pending_jobs)
    add_row "quickstart, dry run (no results yet)" "$jobs" "$(best_seconds -n)" "snakemake -n"
    notes+=("results/quickstart/summary.csv is missing: run the quickstart first with"
            "\`make run\` to time the no-op run.")
fi

# 2. CIFAR-10 grid, dry run
if [[ -f experiments/cifar10.yaml ]]; then
    cifar=(-n --replace-workflow-config --configfile experiments/cifar10.yaml)
    add_row "CIFAR-10 grid, dry run" "$(pending_jobs "${cifar[@]:1}")" \
        "$(best_seconds "${cifar[@]}")" "snakemake ${cifar[*]}"
else
    add_row "quickstart x 20 seeds (no cifar10.yaml yet)" "$(pending_jobs "${seeds20[@]}")" \
        "$(best_seconds -n "${seeds20[@]}")" "snakemake -n --configfile config.yaml <seeds 0-19>.yaml"
    notes+=("experiments/cifar10.yaml does not exist yet; row 2 is a stand-in.")
fi

# 3. quickstart scaled to 20 seeds, dry run
add_row "quickstart x 20 seeds, dry run" "$(pending_jobs "${seeds20[@]}")" \
    "$(best_seconds -n "${seeds20[@]}")" "snakemake -n --configfile config.yaml <seeds 0-19>.yaml"

echo "# snakemake $(snakemake --version) overhead, --profile workflow/profiles/local," \
     "best of $repeats"
header=$(printf "%-44s %6s %9s  %s" "case" "jobs" "seconds" "command")
echo "$header"
printf '%*s\n' "${#header}" '' | tr ' ' '-'
printf '%s\n' "${rows[@]}"
if [[ ${#notes[@]} -gt 0 ]]; then printf 'note: %s\n' "${notes[*]}"; fi
