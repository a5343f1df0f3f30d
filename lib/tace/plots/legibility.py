"""Is a figure legible at the size the article prints it?

A reader sees a figure at the article's width: in the PDF and DOCX its natural width capped
at the text width (17 cm), so a figure wider than the page is scaled down and its fonts
with it. :func:`check_legibility` draws the figure and, from every visible text artist's
window extent (titles, axis labels, tick labels, legend entries, annotations), finds

- text smaller than :data:`MIN_FONT_PT` once printed,
- two texts whose boxes overlap (by more than :data:`OVERLAP_TOLERANCE_PX` either way),
- text that falls outside the figure, where it is cut off.

:class:`tace.report.provenance.Provenance` runs it on every figure it saves and writes the
result into the figure's sidecar, so the report's tests can hold every figure to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

from matplotlib.figure import Figure
from matplotlib.text import Text

__all__ = ["MIN_FONT_PT", "PRINTED_WIDTH_PT", "Legibility", "check_legibility"]

#: The smallest font a printed figure may carry (journals ask for 6-8 pt).
MIN_FONT_PT = 7.0
#: The article's text width in the PDF and DOCX: A4 with 2 cm margins, 17 cm.
PRINTED_WIDTH_PT = 17 / 2.54 * 72
#: Boxes that touch by this much (pixels at the figure's dpi) are not counted as overlapping:
#: glyph boxes include leading, so adjacent lines of one legend graze each other.
OVERLAP_TOLERANCE_PX = 1.5


@dataclass(frozen=True)
class Legibility:
    """What :func:`check_legibility` found.

    Attributes
    ----------
    scale
        Printed size over natural size (1 when the figure fits the text width).
    min_font_pt
        The smallest font of any visible text, as printed.
    small, overlaps, outside
        Descriptions of the texts that are too small, of the pairs that overlap, and of the
        texts that leave the figure.
    """

    scale: float
    min_font_pt: float
    small: tuple[str, ...]
    overlaps: tuple[str, ...]
    outside: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """No text too small, no overlap, nothing outside."""
        return not (self.small or self.overlaps or self.outside)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "scale": round(self.scale, 4), "min_font_pt": round(self.min_font_pt, 2),
                "small": list(self.small), "overlaps": list(self.overlaps), "outside": list(self.outside)}


def _visible_texts(fig: Figure) -> list[Text]:
    """The texts the last draw put on the figure: visible, non-empty, and for tick labels
    only those of ticks inside the view (matplotlib keeps labels of other ticks around)."""
    tick_labels, drawn = set(), set()
    for ax in fig.get_axes():
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                tick_labels.update((id(tick.label1), id(tick.label2)))
            if ax.get_visible() and ax.axison and axis.get_visible():
                for tick in axis._update_ticks():  # the ticks this draw shows (matplotlib's own filter)
                    drawn.update((id(tick.label1), id(tick.label2)))
    texts = []
    for t in fig.findobj(Text):
        if not t.get_visible() or not t.get_text().strip():
            continue
        if id(t) in tick_labels and id(t) not in drawn:
            continue
        parent = t.axes
        if parent is not None and (not parent.get_visible() or any(
                t is axis.label and not (parent.axison and axis.get_visible())
                for axis in (parent.xaxis, parent.yaxis))):
            continue
        texts.append(t)
    return texts


def _name(t: Text) -> str:
    text = t.get_text().replace("\n", " ")
    return repr(text[:40] + ("..." if len(text) > 40 else ""))


def check_legibility(fig: Figure, *, printed_width_pt: float = PRINTED_WIDTH_PT,
                     min_font_pt: float = MIN_FONT_PT) -> Legibility:
    """Draw ``fig`` and check its text at the printed width (see the module notes).

    >>> from matplotlib.figure import Figure
    >>> fig = Figure(figsize=(4, 3)); ax = fig.add_subplot(); _ = ax.set_title("a title", fontsize=5)
    >>> check_legibility(fig).small
    ("'a title' 5.0 pt",)
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()  # lays the figure out (constrained layout included) as savefig will
    renderer = canvas.get_renderer()
    width_pt = fig.get_figwidth() * 72
    scale = min(1.0, printed_width_pt / width_pt)
    texts = _visible_texts(fig)
    boxes = []
    for t in texts:
        try:
            box = t.get_window_extent(renderer)
        except (RuntimeError, ValueError):  # a text whose position is not finite is not drawn
            continue
        if box.width > 0 and box.height > 0:
            boxes.append((t, box))
    small = tuple(f"{_name(t)} {t.get_fontsize() * scale:.1f} pt" for t, _ in boxes
                  if t.get_fontsize() * scale < min_font_pt - 1e-9)
    fig_box = fig.bbox
    tol = OVERLAP_TOLERANCE_PX
    outside = tuple(_name(t) for t, b in boxes
                    if b.x0 < fig_box.x0 - tol or b.y0 < fig_box.y0 - tol or b.x1 > fig_box.x1 + tol
                    or b.y1 > fig_box.y1 + tol)
    overlaps = []
    for (ta, a), (tb, b) in combinations(boxes, 2):
        dx = min(a.x1, b.x1) - max(a.x0, b.x0)
        dy = min(a.y1, b.y1) - max(a.y0, b.y0)
        if dx > tol and dy > tol:
            overlaps.append(f"{_name(ta)} and {_name(tb)}")
    sizes = [float(t.get_fontsize() * scale) for t, _ in boxes]
    return Legibility(float(scale), min(sizes) if sizes else float("nan"), small, tuple(overlaps), outside)
