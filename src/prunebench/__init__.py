"""prunebench: which training examples matter, and how much compute choosing them saves."""

__version__ = "0.1.0"
