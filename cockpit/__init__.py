"""oncall-cockpit: a terminal cockpit for people on call."""

__version__ = "0.1.0"
