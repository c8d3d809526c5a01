"""Reading result files: each run's metrics.json into summary.csv (with its selection
efficiency) and back, learning curves from history.csv, the mean score files, selection logs
and the prepared labels."""
