"""LAMMPS ``pair_style table`` files: read one section and check it before any MD.

A table file holds one or more sections (LAMMPS ``pair_style table`` docs)::

    # comment lines
    KEYWORD
    N 500 [R rlo rhi | RSQ rlo rhi] [FPRIME fplo fphi]

    1 r_1 E_1 F_1
    2 r_2 E_2 F_2
    ...

with r in Å, E in kcal/mol and F = -dE/dr in kcal/(mol Å) for ``units real``. LAMMPS
skips blank lines and everything after ``#``, finds the section by its first word,
reads the parameter line and then exactly N data lines. With ``R`` or ``RSQ`` it
recomputes the distances from rlo..rhi (linear in r or in r²) and uses those.

:func:`read_table_section` reads one section the way LAMMPS does and refuses, naming
the file, the section and the line, a section that is absent, an N that does not
match the rows, a row that is not four numbers, a value that is not finite, or an r
grid that does not increase. :func:`table_cutoff_problem` checks that the grid covers
a cutoff.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

#: Parameter-line keywords LAMMPS accepts and the number of values each takes.
_PARAMETER_KEYWORDS = {"N": 1, "R": 2, "RSQ": 2, "FPRIME": 2, "BITMAP": 2}


class TableFileError(ValueError):
    """A table file cannot be used; the message names the file, section and line."""


@dataclass(frozen=True)
class TableSection:
    """One section of a table file as LAMMPS uses it.

    Attributes
    ----------
    path
        The table file.
    keyword
        The section's keyword.
    n_points
        N of the parameter line (= number of data rows).
    r_A
        Distances LAMMPS uses, Å: the file's r column, or the grid recomputed from
        ``R``/``RSQ`` rlo..rhi.
    energy_kcal_mol
        The E column, kcal/mol.
    force_kcal_mol_A
        The F column (-dE/dr), kcal/(mol Å).
    first_row_line
        Line number (1-based) of the first data row.
    """

    path: Path
    keyword: str
    n_points: int
    r_A: tuple[float, ...]
    energy_kcal_mol: tuple[float, ...]
    force_kcal_mol_A: tuple[float, ...]
    first_row_line: int

    @property
    def r_min_A(self) -> float:
        """Smallest tabulated distance, Å."""
        return self.r_A[0]

    @property
    def r_max_A(self) -> float:
        """Largest tabulated distance, Å."""
        return self.r_A[-1]


def _content_lines(text: str) -> list[tuple[int, list[str]]]:
    """(line number, words) of every line with words left after removing ``#`` comments."""
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if words:
            out.append((number, words))
    return out


def _float(word: str) -> float | None:
    try:
        return float(word)
    except ValueError:
        return None


def _is_data_row(words: list[str]) -> bool:
    """Four or more numbers: a data row (a section keyword is a word that is not)."""
    return len(words) >= 4 and all(_float(w) is not None for w in words[:4])


def _parse_parameters(words: list[str], where: str) -> dict[str, list[float]]:
    """The parameter line ``N n [R lo hi | RSQ lo hi] [FPRIME lo hi]`` as a dict."""
    params: dict[str, list[float]] = {}
    i = 0
    while i < len(words):
        key = words[i]
        if key not in _PARAMETER_KEYWORDS:
            raise TableFileError(
                f"{where}: unknown word {key!r} in the parameter line; expected "
                "N <points> [R lo hi | RSQ lo hi] [FPRIME lo hi]"
            )
        count = _PARAMETER_KEYWORDS[key]
        values = [_float(w) for w in words[i + 1 : i + 1 + count]]
        if len(values) < count or any(v is None or not math.isfinite(v) for v in values):
            raise TableFileError(f"{where}: {key} needs {count} finite number(s)")
        params[key] = [float(v) for v in values if v is not None]
        i += 1 + count
    if "N" not in params:
        raise TableFileError(f"{where}: the parameter line has no N <points>")
    n = params["N"][0]
    if n != int(n) or n < 2:
        raise TableFileError(f"{where}: N {n:g} is not an integer >= 2")
    if "BITMAP" in params:
        raise TableFileError(f"{where}: BITMAP tables are not supported; tabulate r, E, F")
    if "R" in params and "RSQ" in params:
        raise TableFileError(f"{where}: give R or RSQ, not both")
    return params


def _grid(params: dict[str, list[float]], r_file: list[float], where: str) -> list[float]:
    """Distances LAMMPS uses: the file's, or recomputed from R/RSQ lo..hi."""
    n = len(r_file)
    for key in ("R", "RSQ"):
        if key in params:
            lo, hi = params[key]
            if not 0.0 < lo < hi:
                raise TableFileError(f"{where}: {key} {lo:g} {hi:g}; expected 0 < lo < hi")
            if key == "R":
                return [lo + (hi - lo) * i / (n - 1) for i in range(n)]
            return [math.sqrt(lo * lo + (hi * hi - lo * lo) * i / (n - 1)) for i in range(n)]
    return r_file


def read_table_section(path: str | Path, keyword: str) -> TableSection:
    """Read and check the section ``keyword`` of the table file ``path``.

    Parameters
    ----------
    path
        The table file (LAMMPS ``pair_style table`` format, real units).
    keyword
        The section to read.

    Returns
    -------
    TableSection
        The section's grid and values.

    Raises
    ------
    TableFileError
        Naming the file, the section and the line: section absent, no or bad
        parameter line, N different from the number of rows, a row that is not four
        numbers, a value that is not finite, r not > 0 or not strictly increasing.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise TableFileError(f"table file {path}: not UTF-8 text ({err})") from err
    lines = _content_lines(text)
    start = next((k for k, (_, words) in enumerate(lines) if words[0] == keyword), None)
    if start is None:
        found = [
            words[0]
            for k, (_, words) in enumerate(lines[:-1])
            if len(words) == 1 and lines[k + 1][1][0] == "N"
        ]
        raise TableFileError(
            f"table file {path}: no section {keyword!r} (sections found: "
            f"{', '.join(found) or 'none'})"
        )
    section = f"table file {path}, section {keyword!r}"
    key_line = lines[start][0]
    if start + 1 >= len(lines):
        raise TableFileError(f"{section}, line {key_line}: no parameter line after the keyword")
    param_line, param_words = lines[start + 1]
    params = _parse_parameters(param_words, f"{section}, line {param_line}")
    n = int(params["N"][0])
    rows = lines[start + 2 : start + 2 + n]
    r_file: list[float] = []
    energy: list[float] = []
    force: list[float] = []
    for number, words in rows:
        where = f"{section}, line {number}"
        if not _is_data_row(words):
            raise TableFileError(
                f"{where}: {' '.join(words)!r} is not a row 'index r E F' (N is {n}, "
                f"but only {len(r_file)} rows precede this line)"
            )
        _, r, e, f = (float(w) for w in words[:4])
        bad = [name for name, v in (("r", r), ("E", e), ("F", f)) if not math.isfinite(v)]
        if bad:
            raise TableFileError(f"{where}: {', '.join(bad)} not finite ({' '.join(words[:4])})")
        if r <= 0.0:
            raise TableFileError(f"{where}: r = {r:g}; expected r > 0")
        if r_file and not r > r_file[-1]:
            raise TableFileError(
                f"{where}: r = {r:g} does not increase (previous row r = {r_file[-1]:g}); "
                "expected a strictly increasing r grid"
            )
        r_file.append(r)
        energy.append(e)
        force.append(f)
    if len(r_file) < n:
        last = rows[-1][0] if rows else param_line
        raise TableFileError(
            f"{section}, line {last}: the section ends after {len(r_file)} rows; N is {n}"
        )
    after = start + 2 + n
    if after < len(lines) and _is_data_row(lines[after][1]):
        raise TableFileError(
            f"{section}, line {lines[after][0]}: row {n + 1} of a section whose N is {n}; "
            "expected N to count every row"
        )
    return TableSection(
        path=path,
        keyword=keyword,
        n_points=n,
        r_A=tuple(_grid(params, r_file, f"{section}, line {param_line}")),
        energy_kcal_mol=tuple(energy),
        force_kcal_mol_A=tuple(force),
        first_row_line=rows[0][0],
    )


def table_cutoff_problem(section: TableSection, cutoff_A: float) -> str | None:
    """Why the table cannot be cut at ``cutoff_A`` (Å), or None when it covers it.

    LAMMPS interpolates between the first and last tabulated r: the cutoff must lie
    above the first and at or below the last.
    """
    if section.r_min_A < cutoff_A <= section.r_max_A:
        return None
    return (
        f"table file {section.path}, section {section.keyword!r}: r runs from "
        f"{section.r_min_A:g} to {section.r_max_A:g} A, which does not cover the cutoff "
        f"{cutoff_A:g} A; expected the last r at or beyond the cutoff"
    )
