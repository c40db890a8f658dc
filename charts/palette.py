"""Colours, in a fixed order, chosen to stay distinguishable with colour-vision deficiency.

Severity bands: ColorBrewer YlOrBr (Brewer & Harrower, colorbrewer2.org, marked colour-blind safe
for 3-9 classes), a single-hue sequential scheme whose lightness rises with severity, so the
order reads correctly in greyscale too. A scale's bands get the scheme of their count, lightest
for the least severe band, always in the definition's order (never alphabetical).

Categories (arms, infusions) and lines: Okabe & Ito (2008), "Color Universal Design", in their
published order. Threshold lines also differ in dash pattern, so they never rely on colour alone.
"""

from __future__ import annotations

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}

#: Order used for arms and infusion numbers (yellow last: weakest on white).
CATEGORICAL = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442")

YLORBR = {
    2: ("#fff7bc", "#fe9929"),
    3: ("#fff7bc", "#fec44f", "#d95f0e"),
    4: ("#ffffd4", "#fed98e", "#fe9929", "#cc4c02"),
    5: ("#ffffd4", "#fed98e", "#fe9929", "#d95f0e", "#993404"),
    6: ("#ffffd4", "#fee391", "#fec44f", "#fe9929", "#d95f0e", "#993404"),
    7: ("#ffffd4", "#fee391", "#fec44f", "#fe9929", "#ec7014", "#cc4c02", "#8c2d04"),
    8: ("#ffffe5", "#fff7bc", "#fee391", "#fec44f", "#fe9929", "#ec7014", "#cc4c02", "#8c2d04"),
    9: ("#ffffe5", "#fff7bc", "#fee391", "#fec44f", "#fe9929", "#ec7014", "#cc4c02", "#993404", "#662506"),
}
BAND_OPACITY = 0.45

#: Line styles: colour, dash (Vega-Lite strokeDash), width.
LINE_STYLES = {
    "baseline": ("#000000", [], 1.5),
    "response": (OKABE_ITO["blue"], [8, 4], 2.0),
    "remission": (OKABE_ITO["bluish_green"], [2, 3], 2.5),
}
POINT_COLOR = "#333333"
AMENDED_COLOR = OKABE_ITO["vermillion"]
INFUSION_COLOR = "#6b6b6b"
SPAGHETTI_COLOR = "#8a8a8a"


def band_colors(count: int) -> tuple[str, ...]:
    """`count` sequential colours, least severe first (1 band: the lightest)."""
    if count <= 0:
        return ()
    if count == 1:
        return (YLORBR[3][0],)
    if count > 9:
        raise ValueError(f"{count} severity bands is more than the colour-blind safe scheme has (9)")
    return YLORBR[count]


def categorical(count: int) -> tuple[str, ...]:
    """The first `count` Okabe-Ito colours (cycled beyond eight)."""
    return tuple(CATEGORICAL[i % len(CATEGORICAL)] for i in range(count))
