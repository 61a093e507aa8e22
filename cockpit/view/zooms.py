"""The 5xx graph's windows, (seconds, label): the panel cycles through them (z). Apart from
the errors view so that the panel can title itself before the core is loaded."""

ZOOMS = ((300, "5 min"), (1800, "30 min"), (10800, "3 h"))
DEFAULT_ZOOM = 1  # 30 min, once the data held are longer than the shorter windows
