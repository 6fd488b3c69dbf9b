"""A picture of the facet layout, like the facet figure of the 0.3-arcsec strategy paper.

Facet polygons in black, main calibrators as stars and weak calibrators as open
circles, both coloured by their phasediff score sigma_c, facet centres as grey
crosses, the field centre as a red plus, facet names next to their calibrators. Axes are gnomonic offsets from the
field centre in degrees, east to the left (RA increasing to the left, as on the sky).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lofar_hires.selection.facets import FacetLayout, radec_to_xyz, tangent_basis, xyz_to_plane

log = logging.getLogger(__name__)

#: Longest facet label drawn (longer names are shortened with an ellipsis).
MAX_LABEL_CHARS = 24


def _label(name: str) -> str:
    """A facet name as drawn: printable, at most :data:`MAX_LABEL_CHARS` characters."""
    text = "".join(c if c.isprintable() else "?" for c in name)
    return text if len(text) <= MAX_LABEL_CHARS else text[:MAX_LABEL_CHARS - 1] + "\u2026"


def _offsets_deg(layout: FacetLayout, ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    basis = tangent_basis(layout.centre_ra_deg, layout.centre_dec_deg)
    xy, _ = xyz_to_plane(radec_to_xyz(ra_deg, dec_deg), basis)
    return np.degrees(xy)


def plot_facet_layout(layout: FacetLayout, path: Path, *, main_scores_rad: Sequence[float | None] | None = None,
                      weak_names: Sequence[str] = (), weak_deg: np.ndarray | None = None,
                      weak_scores_rad: Sequence[float | None] = (), title: str | None = None) -> Path:
    """Draw the facets, calibrators and field centre into a PNG.

    Parameters
    ----------
    layout
        The facets (their calibrators are the main calibrators).
    path
        PNG to write.
    main_scores_rad
        Phasediff score of each facet's calibrator (None where unknown: drawn grey).
    weak_names, weak_deg, weak_scores_rad
        Weak calibrators, their (n, 2) RA, Dec and scores.
    title
        Figure title (default: the number of facets and the clip region).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    n = len(layout.facets)
    main_scores = np.array([np.nan if s is None else s for s in (main_scores_rad or [None] * n)], dtype=float)
    weak_xy = (_offsets_deg(layout, np.asarray(weak_deg)[:, 0], np.asarray(weak_deg)[:, 1])
               if len(weak_names) else np.zeros((0, 2)))
    weak_scores = np.array([np.nan if s is None else s for s in weak_scores_rad], dtype=float).reshape(-1)
    known = np.concatenate([main_scores, weak_scores])
    known = known[np.isfinite(known)]
    norm = Normalize(vmin=float(known.min()) if known.size else 0.0,
                     vmax=float(known.max()) if known.size and known.max() > known.min() else
                     (float(known.min()) + 1.0 if known.size else 1.0))
    cmap = plt.get_cmap("viridis")

    fig, ax = plt.subplots(figsize=(8.0, 7.0), dpi=120)
    clip = _offsets_deg(layout, layout.clip_vertices_deg[:, 0], layout.clip_vertices_deg[:, 1])
    ax.fill(clip[:, 0], clip[:, 1], facecolor="0.95", edgecolor="0.5", linestyle="--", linewidth=0.8, zorder=0)
    cal_xy = _offsets_deg(layout, np.array([f.cal_ra_deg for f in layout.facets]),
                          np.array([f.cal_dec_deg for f in layout.facets]))
    for facet, (x, y) in zip(layout.facets, cal_xy):
        poly = _offsets_deg(layout, facet.vertices_deg[:, 0], facet.vertices_deg[:, 1])
        ax.fill(poly[:, 0], poly[:, 1], facecolor="none", edgecolor="k", linewidth=1.0, zorder=1)
        ax.annotate(_label(facet.name), (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7, zorder=4)

    def colours(scores: np.ndarray) -> list:
        return [cmap(norm(s)) if np.isfinite(s) else (0.6, 0.6, 0.6, 1.0) for s in scores]

    centres = _offsets_deg(layout, np.array([f.centre_ra_deg for f in layout.facets]),
                           np.array([f.centre_dec_deg for f in layout.facets]))
    ax.scatter(centres[:, 0], centres[:, 1], marker="x", s=25, color="0.4", linewidths=1.0, zorder=2,
               label="facet centre")
    ax.scatter(cal_xy[:, 0], cal_xy[:, 1], marker="*", s=180, c=colours(main_scores), edgecolors="k",
               linewidths=0.6, zorder=3, label="main calibrator")
    if len(weak_xy):
        ax.scatter(weak_xy[:, 0], weak_xy[:, 1], marker="o", s=45, facecolors="none",
                   edgecolors=colours(weak_scores), linewidths=1.5, zorder=3, label="weak calibrator")
    ax.plot([0.0], [0.0], marker="+", color="r", markersize=14, markeredgewidth=2, linestyle="none", zorder=2,
            label="field centre")
    mappable = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(mappable, ax=ax, label=r"$\sigma_c$ (rad)")
    ax.set_aspect("equal")
    x_lo, x_hi = clip[:, 0].min(), clip[:, 0].max()
    y_lo, y_hi = clip[:, 1].min(), clip[:, 1].max()
    pad = 0.05 * max(x_hi - x_lo, y_hi - y_lo)
    ax.set_xlim(x_hi + pad, x_lo - pad)  # east (RA increasing) to the left
    ax.set_ylim(y_lo - pad, y_hi + pad)
    ax.set_xlabel(r"$\Delta$RA (deg, gnomonic offset, east to the left)")
    ax.set_ylabel(r"$\Delta$Dec (deg)")
    ax.set_title(title or f"{n} facet(s) about RA {layout.centre_ra_deg:.4f}, Dec {layout.centre_dec_deg:.4f} deg "
                          f"({layout.clip.describe()})", fontsize=9)
    ax.legend(loc="upper right", fontsize=7, framealpha=0.8)
    ax.grid(True, linewidth=0.3, alpha=0.5)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    log.debug("wrote %s", path)
    return path
