"""Server-side bar charts: geometry computed here, drawn as inline SVG by the templates.

No JavaScript and no CDN: the metrics page renders on a machine without internet, and each
chart comes with the same numbers as a table for screen readers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LABEL_WIDTH = 190
CHART_WIDTH = 600
ROW_HEIGHT = 28
BAR_HEIGHT = 18


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value_text: str
    text_x: float
    text_y: float
    css: str = ""


@dataclass(frozen=True)
class Row:
    label: str
    y: float
    bars: list[Bar]
    text_x: float


@dataclass
class BarChart:
    """Horizontal bars, one row per label; each row may hold several series (e.g. median, p90)."""

    rows: list[Row] = field(default_factory=list)
    height: int = 40
    width: int = CHART_WIDTH
    label_width: int = LABEL_WIDTH
    empty: bool = True


def bar_chart(
    rows: list[tuple[str, list[float]]],
    *,
    unit: str = "",
    series_css: tuple[str, ...] = ("",),
    decimals: int = 0,
) -> BarChart:
    if not rows:
        return BarChart()
    series = max(len(values) for _label, values in rows)
    biggest = max((v for _label, values in rows for v in values), default=0) or 1
    plot = CHART_WIDTH - LABEL_WIDTH - 70
    bar_height = BAR_HEIGHT if series == 1 else 13
    row_height = max(ROW_HEIGHT, series * (bar_height + 2) + 10)
    chart_rows = []
    for index, (label, values) in enumerate(rows):
        top = 10 + index * row_height
        bars = []
        for s, value in enumerate(values):
            width = max(1.0, plot * value / biggest) if value else 0.0
            text = f"{value:.{decimals}f}{unit}"
            y = top + s * (bar_height + 2)
            bars.append(
                Bar(
                    x=LABEL_WIDTH,
                    y=y,
                    width=round(width, 1),
                    height=bar_height,
                    value_text=text,
                    text_x=round(LABEL_WIDTH + width + 6, 1),
                    text_y=y + bar_height - 3,
                    css=series_css[s % len(series_css)],
                )
            )
        middle = top + (series * (bar_height + 2)) / 2 + 4
        chart_rows.append(Row(label=_short(label), y=middle, bars=bars, text_x=LABEL_WIDTH - 8))
    return BarChart(rows=chart_rows, height=int(20 + len(rows) * row_height), empty=False)


def _short(label: str, limit: int = 14) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
