"""What an experiment will cost before it runs (`prunebench plan`), and Slurm's requests from it.

- `facts`: each dataset's sizes and input shape, known from its options alone;
- `work`: every job's counted work, computed ahead from the plan (examples trained, evaluated,
  forwarded and back-propagated by selection and scoring), the counts finished runs record;
- `throughput`: measured examples per second per (dataset, model, device): a cached
  calibration run (`calibrate`, the only module here that imports torch), the H100 table of
  docs/performance.md (`h100`), or finished runs' own timings;
- `predict`: work x throughput -> seconds per job, per rule and in total;
- `actual`: what finished jobs took, to set beside the prediction;
- `resources`: Slurm `runtime` and `mem_mb` per job from the prediction (the workflow's
  resource functions call it).

Torch-free except `calibrate`.
"""
