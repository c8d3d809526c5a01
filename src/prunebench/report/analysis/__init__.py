"""Statistics and derived tables."""
