#!/usr/bin/env bash
# Every GPU check and timing of the cost work (CUDA tests, training speed in and outside the
# DAG, the paper grids through Snakemake, CREST's first selection), prepared so that a lent GPU
# machine's minutes go on measuring. Two parts, one device call each, most important first.
# Each step runs under its own limit, capped by what is left of the part's budget
# (GPU_SESSION_BUDGET seconds, default 420; 1800 for --smoke); a step that no longer fits is skipped and says so.
# After every step the logs and JSON figures are archived into $OUT/gpu_session-PART.tgz ($OUT:
# default benchmarks/out/gpu_session; a device call brings back 8 files at most), so a call
# cut short still returns what finished; the last lines printed are every table and each
# step's exit and time.
#
#   bash benchmarks/gpu_wheels.sh                      # here: the wheels that machine lacks
#   bash benchmarks/gpu_session.sh cifar10 --smoke     # here: every step, toy sizes, CPU
#   GPU_SESSION_BUDGET=400 bash benchmarks/gpu_session.sh cifar10   # there (carry .whl)
#   GPU_SESSION_BUDGET=320 bash benchmarks/gpu_session.sh paper     # there, the next call
# (budgets that fit both parts, the machine's start included, into one 15-minute lease; give
# each call a timeout_s about 60 s above its budget)
#
# cifar10: the CIFAR-10 grid at 20 epochs through Snakemake, jobs compiled (`--compile`, default
#          reduce-overhead: CUDA graphs), 4 to the GPU as the gpu profile packs them: per job
#          phases, selection efficiency, first and later selections; one `full` job alone in
#          the DAG, eager and compiled (training img/s against gpu_training.py's); the CUDA tests
#          (test_gpu.py, the compiled-training test, the GPU cases of the selection kernels).
# paper:   the CIFAR-100 (ResNet-18), TinyImageNet (ResNet-18 at 64x64, 200 classes) and SNLI
#          (MiniLM-L6-shaped, a tenth of its pairs) grids at one epoch on random data of the
#          real shapes, with peak GPU memory; CREST's first selection on CIFAR-10
#          (crest_first_selection.py); ResNet-20 img/s outside the DAG, eager and CUDA graphs;
#          the selection kernels on CIFAR-10-shaped inputs.
# The step limits are guesses from an H100's figures (docs/performance.md), not measurements.
set -uo pipefail
cd "$(dirname "$0")/.."
PART=${1:?usage: gpu_session.sh cifar10|paper [--smoke] [--compile MODE]}
shift
SMOKE=0
COMPILE=reduce-overhead
while [ $# -gt 0 ]; do
  case $1 in
    --smoke) SMOKE=1 ;;
    --compile) COMPILE=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
BUDGET=${GPU_SESSION_BUDGET:-$([ $SMOKE = 1 ] && echo 1800 || echo 420)}
OUT=${OUT:-benchmarks/out/gpu_session}
OUT=$(mkdir -p "$OUT" && cd "$OUT" && pwd)
WORK=$(mktemp -d /tmp/gpu_session.XXXX)
LOGS=$WORK/logs
mkdir -p "$LOGS"
PY=${PYTHON:-python3}

# -- environment: the carried wheels, prunebench from src/, a `prunebench` command for jobs --
if ! $PY -c "import snakemake" 2>/dev/null && compgen -G ".whl/*.whl" >/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site PATH=/tmp/site/bin:$PATH
fi
export PYTHONPATH=$PWD/src:$PWD/benchmarks${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
mkdir -p "$WORK/bin"
printf '#!%s\nimport sys\nfrom prunebench.cli import main\nsys.exit(main())\n' \
  "$(command -v "$PY")" >"$WORK/bin/prunebench"
chmod +x "$WORK/bin/prunebench"
export PATH=$WORK/bin:$PATH
MINILM=()
[ -d .whl/minilm ] && MINILM=(--minilm-files .whl/minilm)

SUMMARY=()
left() { echo $((BUDGET - SECONDS)); }
step() {  # step NAME SECONDS COMMAND...: under min(SECONDS, budget left), log in $LOGS/NAME.log
  local name=$1 limit=$2 start=$SECONDS code
  shift 2
  if [ "$(left)" -lt 30 ]; then
    SUMMARY+=("$name: SKIPPED, $(left) s of the part's ${BUDGET} s budget left")
    return
  fi
  [ "$limit" -gt "$(left)" ] && limit=$(left)
  echo "== $name (limit ${limit}s): $*"
  timeout --signal=INT --kill-after=40 "$limit" "$@" 2>&1 | tee "$LOGS/$name.log"
  code=${PIPESTATUS[0]}
  SUMMARY+=("$name: exit $code in $((SECONDS - start)) s (limit ${limit} s)")
  printf '%s\n' "${SUMMARY[@]}" >"$LOGS/summary.txt"
  tar -czf "$OUT/gpu_session-$PART.tgz" -C "$LOGS" .
}
keep() {  # keep FILE NAME: a figure file into the archive's folder
  cp "$1" "$LOGS/$2" 2>/dev/null || true
}
grid_timeout() {  # the grid's own stop, inside the step's limit: its finished jobs are reported
  local t=$(($(left) - $1))
  [ "$t" -gt "$2" ] && t=$2
  echo $((t > 30 ? t : 30))
}

if [ $SMOKE = 1 ]; then
  DEVICE=cpu
  C10=(--n-train 1000 --n-test 200)
  TESTS=(tests/test_compiled_training.py tests/kernels/glister/test_greedy.py)
  TRAIN=(--steps 2 --variants fp32 fp32+compile)
  KERNELS=(--kernel-n 2000)
else
  DEVICE=cuda
  C10=()
  TESTS=(tests/test_gpu.py tests/test_compiled_training.py tests/kernels/facility_location/test_by_class.py
         tests/kernels/facility_location/test_greedy.py tests/kernels/facility_location/test_by_group.py
         tests/kernels/glister/test_greedy.py tests/kernels/omp/test_batched.py tests/test_static_methods.py)
  TRAIN=(--steps 200 --variants bf16+cl bf16+cl+cudagraphs)
  KERNELS=()
fi
command -v nvidia-smi >/dev/null && nvidia-smi -L
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

case $PART in
cifar10)
  step cifar10_grid 240 $PY benchmarks/gpu_dag.py --device $DEVICE "${C10[@]}" \
    --workdir "$WORK/grid" --epochs 20 --compile "$COMPILE" --slots 4 --concurrency \
    --grid-timeout "$(grid_timeout 40 200)"
  keep "$WORK/grid/gpu_dag.json" cifar10_grid.json
  for mode in false "$COMPILE"; do  # one `full` job alone, 2 epochs: img/s in the DAG
    step "dag_full_$mode" 90 $PY benchmarks/gpu_dag.py --device $DEVICE "${C10[@]}" \
      --workdir "$WORK/full-$mode" --no-grid --compile "$mode" --concurrency 1 --jobs 1 \
      --concurrency-epochs 2
    keep "$WORK/full-$mode/gpu_dag.json" "dag_full_$mode.json"
  done
  # the GPU cases only (the CPU ones run in CI): ids with cuda, test_gpu.py, GPU-named tests
  step tests 150 $PY -m pytest -q -p no:cacheprovider "${TESTS[@]}" \
    -k "(cuda or gpu or compiled_training) and not cpu-inductor"
  ;;
paper)
  for dataset in cifar100 tinyimagenet snli; do
    sizes=()
    # smoke: 3 images a class for CIFAR-100, one for TinyImageNet (ResNet-18 at 64x64 trains
    # at ~3 img/s on one CPU thread)
    [ $SMOKE = 1 ] && sizes=(--n-train 300 --n-test 100)
    [ $SMOKE = 1 ] && [ $dataset = tinyimagenet ] && sizes=(--n-train 200 --n-test 100)
    # SNLI at a tenth of its pairs: one epoch of all 549,367 is ~17,000 steps of MiniLM
    [ $SMOKE = 0 ] && [ $dataset = snli ] && sizes=(--n-train 54937)
    step "${dataset}_grid" 130 $PY benchmarks/gpu_dag.py --dataset $dataset \
      --device $DEVICE "${sizes[@]}" "${MINILM[@]}" --workdir "$WORK/$dataset" --epochs 1 \
      --slots 4 --concurrency --grid-timeout "$(grid_timeout 50 90)"
    keep "$WORK/$dataset/gpu_dag.json" "${dataset}_grid.json"
  done
  step crest_data 40 $PY benchmarks/gpu_dag.py --device $DEVICE "${C10[@]}" \
    --workdir "$WORK/crest" --no-grid --concurrency
  step crest_first_selection 90 $PY benchmarks/crest_first_selection.py \
    --workdir "$WORK/crest" --epochs 5
  keep "$WORK/crest/crest_first_selection.json" crest_first_selection.json
  step training_reference 50 $PY benchmarks/gpu_training.py --models resnet20 "${TRAIN[@]}" \
    --no-scoring
  step selection_kernels 60 $PY benchmarks/selection_limits.py --device $DEVICE \
    --only kernels "${KERNELS[@]}"
  ;;
*) echo "unknown part $PART (cifar10 or paper)" >&2; exit 2 ;;
esac
echo
for log in "$LOGS"/*.log; do  # every table, compactly, for the reply's last 12,000 characters
  grep -E '^(\||[a-z0-9]+ +(fp32|bf16)|CREST|[a-z0-9]+ grid:|[0-9]+ `full`|snakemake FAILED|FAILED|[0-9]+ (passed|failed))' \
    "$log" | grep -v -- '^| ---' | sed "s|^|$(basename "$log" .log): |" | cut -c1-220
done
printf '%s\n' "${SUMMARY[@]}"
echo "wrote $OUT/gpu_session-$PART.tgz"
rm -rf "$WORK"
