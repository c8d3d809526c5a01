"""The report stage: from the runs' result files to summary.csv and the self-contained HTML
report with its figures, tables and exports. Torch-free, in three layers, each importing only
the ones below it (tests/test_architecture.py checks):

- `read`: reading result files (metrics.json into summary.csv, history.csv, score files,
  selection logs) and each run's selection efficiency;
- `analysis`: statistics and derived tables (method table, intervals, time to accuracy,
  frontier, leaderboard and headline, published numbers, selections, CREST, scores) and the
  one number formatter;
- `render`: the declared outputs (`render.layout`), their producers, figures, display rows,
  LaTeX/Markdown exports and the HTML page.
"""
