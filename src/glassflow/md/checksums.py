"""Checksums that decide whether a run is the same run: of files and of input commands.

A run resumes (or is skipped) only when the checksums of what determines its result are
unchanged; these are the helpers every engine and the workflow scripts share.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes (read in chunks).

    Parameters
    ----------
    path
        The file.
    chunk_bytes
        Bytes read at a time.

    Returns
    -------
    str
        64 hex digits.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def strip_lammps_comment(line: str) -> str:
    """One input line without its comment: ``#`` outside single or double quotes onwards.

    Parameters
    ----------
    line
        One line of a LAMMPS input.

    Returns
    -------
    str
        The line up to its comment (the whole line when it has none).
    """
    quote = None
    for i, ch in enumerate(line):
        if quote is not None:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return line[:i]
    return line


def physics_text(text: str) -> str:
    """The commands of a LAMMPS input: comments, blank lines and spacing removed.

    Comments never reach LAMMPS, so two inputs with the same commands give the same
    trajectory. They carry execution details (the rerun hint with ``engine.command``,
    launcher and threads), which therefore do not discard a half-finished run.

    Parameters
    ----------
    text
        A LAMMPS input.

    Returns
    -------
    str
        One command per line, words separated by one space.
    """
    words = (" ".join(strip_lammps_comment(line).split()) for line in text.splitlines())
    return "".join(w + "\n" for w in words if w)
