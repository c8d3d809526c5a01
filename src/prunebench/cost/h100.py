"""The H100 calibration table: throughputs measured on one NVIDIA H100 80GB HBM3 (2026-11-26,
docs/performance.md), checked in so that `prunebench plan --device cuda` prices GPU jobs on a
machine without a GPU. Batch 128 (the paper recipes'), bf16 autocast and channels_last, one
job on the GPU at a time. A calibration run on a real GPU (`prunebench plan --device cuda` where
one is visible) replaces it.

Where each number comes from (docs/performance.md):
- ResNet-20 on CIFAR-10: training 9,393 img/s (one `full` job alone, "Jobs sharing one GPU",
  1 slot); evaluation 50,000 ex/s (the grid's `full` job: 5 epochs x 10,000 test images in
  1.0 s); GraNd 3,802 ex/s ("Training and scoring throughput"); set-up 2.1 s (start-up 0.2 +
  set-up 1.9); 451 MB peak GPU memory; CRAIG 19.3 s, GradMatch 18.2 s, GLISTER 7.1 s per
  selection on top of their passes (measured before the batched GPU kernels; an upper bound).
- ResNet-18 at 32x32 (CIFAR-10, CIFAR-100): not run through the DAG. Its training and
  evaluation speeds are ResNet-20's scaled by the two models' ratios in the same benchmark
  (training at batch 128, bf16 + channels_last: 17,551 / 16,421; scoring forward, EL2N:
  8,364 / 15,795); GraNd 1,883 ex/s measured.
- ResNet-18 at 64x64 (TinyImageNet): never measured; 32x32's speeds / 4 (four times the
  pixels), an assumption.
- MiniLM on SNLI: never measured on a GPU; no entry, so those jobs are counted, not priced.
"""

from __future__ import annotations

from .throughput import Throughput

HARDWARE = "NVIDIA H100 80GB HBM3"
SOURCE = "docs/performance.md (H100, 2026-11-26)"
RESNET20_SELECTION_S = {"craig": 19.3, "gradmatch": 18.2, "glister": 7.1}
_RESNET18_TRAIN = round(9_393 * 17_551 / 16_421)
_RESNET18_EVAL = round(50_000 * 8_364 / 15_795)


def _entry(train: float, evaluate: float, gradients: float, **kw) -> Throughput:
    return Throughput(train_per_s=train, eval_per_s=evaluate, gradients_per_s=gradients,
                      job_overhead_s=2.1, hardware=HARDWARE, source=SOURCE, **kw)


# (dataset, model) -> its throughput on the H100
H100 = {
    ("cifar10", "resnet20"): _entry(9_393, 50_000, 3_802, selection_s=RESNET20_SELECTION_S,
                                    peak_memory_mb=451),
    ("cifar10", "resnet18"): _entry(_RESNET18_TRAIN, _RESNET18_EVAL, 1_883),
    ("cifar100", "resnet18"): _entry(_RESNET18_TRAIN, _RESNET18_EVAL, 1_883),
    ("tinyimagenet", "resnet18"): _entry(_RESNET18_TRAIN / 4, _RESNET18_EVAL / 4, 1_883 / 4),
}
