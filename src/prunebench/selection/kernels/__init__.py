"""Selection kernels, one package per algorithm: `facility_location` (CREST, CRAIG), `omp`
(GradMatch), `glister` (GLISTER's greedy). Each package's `__init__` holds its public calls and
is the only place that chooses a path by device; `reference` modules hold what only tests and
benchmarks use."""
