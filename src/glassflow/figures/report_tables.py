"""Campaign tables made readable in the Snakemake report: standalone HTML (+ CSV).

The report shows an HTML output inline (parquet would only be a download of bytes), so
each table of ``tables/`` can be rendered to a small self-contained HTML page: the column
names carry their units (docs/design.md), numbers are shown with a fixed number of
significant digits, missing values as an em dash, and long tables are cut with a note
(the CSV beside it always holds every row, at full precision).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

#: Rows shown in the HTML page; the CSV keeps all of them.
MAX_HTML_ROWS = 1000
NA_TEXT = "\u2014"

_STYLE = """
body { font-family: system-ui, sans-serif; font-size: 13px; margin: 1em; }
h1 { font-size: 16px; }
p.note { color: #444; }
table.glassflow { border-collapse: collapse; }
table.glassflow th, table.glassflow td { padding: 2px 8px; border-bottom: 1px solid #ddd; }
table.glassflow th { position: sticky; top: 0; background: #f3f3f3; text-align: left; }
table.glassflow td { text-align: right; font-variant-numeric: tabular-nums; }
table.glassflow tr:nth-child(even) td { background: #fafafa; }
"""


def number_formatter(significant: int = 4) -> Callable[[float], str]:
    """Formatter of floats with ``significant`` digits (``%g`` style); NaN -> em dash."""
    if significant < 1:
        raise ValueError(f"significant digits must be >= 1, got {significant!r}")

    def fmt(v: float) -> str:
        return NA_TEXT if v is None or not np.isfinite(v) else f"{v:.{significant}g}"

    return fmt


def display_frame(df: pd.DataFrame, significant: int = 4) -> pd.DataFrame:
    """``df`` with every cell as display text: floats to ``significant`` digits, integers
    and booleans as they are, missing values (NaN, None, pandas NA) as an em dash."""
    fmt = number_formatter(significant)
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        s = df[col]
        missing = s.isna().to_numpy()
        if pd.api.types.is_bool_dtype(s.dtype):
            text = [str(bool(v)) if not na else NA_TEXT for v, na in zip(s, missing, strict=True)]
        elif pd.api.types.is_integer_dtype(s.dtype):
            text = [str(int(v)) if not na else NA_TEXT for v, na in zip(s, missing, strict=True)]
        elif pd.api.types.is_float_dtype(s.dtype):
            vals = s.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
            text = [fmt(v) for v in vals]
        else:
            text = [NA_TEXT if na else str(v) for v, na in zip(s, missing, strict=True)]
        out[col] = text
    return out


def table_html(
    df: pd.DataFrame,
    title: str,
    significant: int = 4,
    max_rows: int = MAX_HTML_ROWS,
    note: str = "",
) -> str:
    """A standalone HTML page with ``df`` as a table (escaped text, formatted numbers)."""
    shown = df.head(max_rows)
    cut = len(df) - len(shown)
    body = display_frame(shown, significant).to_html(
        index=False, escape=True, border=0, classes="glassflow"
    )
    lines = [f"{len(df)} rows, {df.shape[1]} columns."]
    if cut > 0:
        lines.append(f"The first {len(shown)} rows are shown; the CSV holds all {len(df)}.")
    if note:
        lines.append(html.escape(note))
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class='note'>{' '.join(lines)}</p>{body}</body></html>\n"
    )


def render_table(
    df: pd.DataFrame,
    out_html: str | Path,
    out_csv: str | Path | None = None,
    title: str = "",
    significant: int = 4,
    max_rows: int = MAX_HTML_ROWS,
    note: str = "",
) -> list[Path]:
    """Write ``df`` as a readable HTML page (and a full-precision CSV if ``out_csv``).

    Returns the written paths. ``title`` defaults to the HTML file's stem.
    """
    page = Path(out_html)
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(table_html(df, title or page.stem, significant, max_rows, note))
    written = [page]
    if out_csv is not None:
        csv = Path(out_csv)
        csv.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(csv, index=False)
        written.append(csv)
    return written


def render_parquet(
    parquet: str | Path,
    out_html: str | Path,
    out_csv: str | Path | None = None,
    title: str = "",
    significant: int = 4,
) -> list[Path]:
    """:func:`render_table` of a parquet file; a missing file raises naming it."""
    path = Path(parquet)
    if not path.is_file():
        raise FileNotFoundError(f"table {path} does not exist")
    df = pd.read_parquet(path)
    return render_table(df, out_html, out_csv, title or path.stem, significant)
