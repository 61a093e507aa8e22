"""The theme for NO_COLOR (https://no-color.org): greys only, and every grey far from the
background.

Textual honours NO_COLOR by turning each colour into its grey, so the default theme's red,
amber and muted blue come out as darkish greys that a 16-colour terminal draws as black or dark
grey on black: panel borders vanish, a reversed "1 ALERT" badge is grey on grey. Here every
emphasis colour is a light grey; what tells the states apart is the words (FAIL, DEGRADED,
STALE, BLIND SPOT), bold and reverse, never a colour.
"""

from __future__ import annotations

from textual.theme import Theme

NO_COLOR_THEME = Theme(
    name="cockpit-no-color",
    primary="#b0b0b0",
    secondary="#b0b0b0",
    accent="#ffffff",
    warning="#e8e8e8",
    error="#ffffff",
    success="#c8c8c8",
    foreground="#e0e0e0",
    background="#000000",
    surface="#0c0c0c",
    panel="#181818",
    dark=True,
)
