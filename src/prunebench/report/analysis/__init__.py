"""Statistics and derived tables from what `read` gives: the method table, differences with
intervals, time to accuracy, the cost-accuracy frontier, the leaderboard and headline,
published numbers beside ours, what dynamic methods and CREST selected, the scores'
statistics; frames and sentences, no figures."""
