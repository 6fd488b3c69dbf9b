"""The HTML building blocks of the report: every text escaped, numbers formatted, no external reference.

Every string that comes from data (module, observation, calibrator and file names, messages,
warnings) passes :func:`esc` (``html.escape`` with quotes): a name such as
``<script>alert(1)</script>`` shows as text. The page carries a content security policy that
allows no script and no external resource, only inline styles and ``data:`` images.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence

#: Style of the page (inline: the page is one file).
CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 75em; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #bbb; margin-top: 2em; } h3 { margin-top: 1.5em; }
table { border-collapse: collapse; margin: 0.5em 0 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }
th { background: #eee; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.best td { background: #e7f5e7; }
.status-done { color: #1a7f1a; } .status-failed { color: #b00; font-weight: bold; }
.status-stopped, .status-running { color: #b60; } .status-skipped, .status-pending, .status-notrun { color: #777; }
.notrun { color: #777; font-style: italic; } .problem { color: #b00; }
figure { display: inline-block; margin: 0.5em 1em 1em 0; vertical-align: top; max-width: 100%; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.85em; color: #444; max-width: 40em; }
nav a { margin-right: 1em; } code { font-size: 0.95em; }
"""

#: What the page may load: nothing but its inline style and data: images.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def esc(value: object) -> str:
    """``value`` as text, HTML-escaped (quotes too)."""
    return html.escape("" if value is None else str(value), quote=True)


def number(value: float | int | None, digits: int = 1) -> str:
    """A number with ``digits`` decimals (thousands separated); an en dash for None, ``nan`` for NaN."""
    if value is None:
        return "\u2013"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:,.{digits}f}"


def significant(value: float | None, digits: int = 3) -> str:
    """A number with ``digits`` significant digits; an en dash for None."""
    if value is None:
        return "\u2013"
    return f"{value:.{digits}g}"


def flux_density(value_jy: float | None) -> str:
    """A flux density in Jy, mJy or \u00b5Jy (three significant digits, no exponent); an en dash for None."""
    if value_jy is None:
        return "\u2013"
    for factor, unit in ((1.0, "Jy"), (1e-3, "mJy")):
        if abs(value_jy) >= factor:
            return f"{value_jy / factor:.3g} {unit}"
    return f"{value_jy * 1e6:.3g} \u00b5Jy"


def size_bytes(value: int | None) -> str:
    """A byte count in binary units (``1.5 MiB``); an en dash for None."""
    if value is None:
        return "\u2013"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def cell(text: str, numeric: bool = False, value: object = None) -> str:
    """A table cell of already-escaped ``text``; a numeric cell carries the exact value in ``data-value``."""
    if numeric:
        exact = "" if value is None else f' data-value="{esc(value)}"'
        return f'<td class="num"{exact}>{text}</td>'
    return f"<td>{text}</td>"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], table_id: str | None = None,
          row_classes: Sequence[str] | None = None) -> str:
    """A table: ``headers`` (plain text, escaped here) and rows of cells made by :func:`cell`."""
    ident = f' id="{esc(table_id)}"' if table_id else ""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        klass = row_classes[i] if row_classes is not None and row_classes[i] else ""
        body.append((f'<tr class="{esc(klass)}">' if klass else "<tr>") + "".join(row) + "</tr>")
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>\n"


def definitions(items: Iterable[tuple[str, str]]) -> str:
    """A two-column table of plain-text labels and already-escaped values."""
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in items)
    return f"<table>{rows}</table>\n"


def figure(uri: str, caption: str, alt: str) -> str:
    """An inline picture (``uri`` a ``data:`` URI) with an already-escaped caption and plain-text ``alt``."""
    if not uri.startswith("data:image/png;base64,"):
        raise ValueError("the report inlines PNG data URIs only")
    return f'<figure><img src="{uri}" alt="{esc(alt)}"><figcaption>{caption}</figcaption></figure>\n'


def not_run(text: str) -> str:
    """A paragraph saying that a part of the run is absent (``text`` plain, escaped here)."""
    return f'<p class="notrun">{esc(text)}</p>\n'


def bullet_list(items: Iterable[str]) -> str:
    """A list of plain-text items (escaped here)."""
    return "<ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>\n"


def page_start(title: str, sections: Sequence[tuple[str, str]]) -> str:
    """The head of the page and a navigation bar over ``sections`` (id, heading)."""
    nav = "".join(f'<a href="#{esc(ident)}">{esc(heading)}</a>' for ident, heading in sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"
            f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            f"<h1>{esc(title)}</h1>\n<nav>{nav}</nav>\n")


def page_end() -> str:
    return "</body>\n</html>\n"
