"""The phases every run's time is split into (metrics.json's `time`, history.csv's `time_*`
columns, the report's phase tables): the one list the training loop and the report share."""

PHASES = ("scoring", "selection", "training", "evaluation")
