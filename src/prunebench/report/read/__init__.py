"""Reading result files."""
