"""Checks for config strings that reach paths, command lines or LAMMPS inputs.

Names (campaign, file names) may not contain path separators, ``..`` or shell
metacharacters; element symbols must look like element symbols; command words are
checked word by word and always passed to tools as argument lists, never through a
shell. Patterns are matched against the whole string (``fullmatch``: a trailing
newline does not slip through ``$``). Free text is checked against :data:`TEXT_PATTERN` and
written into LAMMPS inputs only through :func:`lammps_comment`.
"""

from __future__ import annotations

import re

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ELEMENT_PATTERN = re.compile(r"^[A-Z][a-z]?$")
COMMAND_WORD_PATTERN = re.compile(r"^[A-Za-z0-9_./+=:,@%-]+$")


def check_name(value: str, key: str) -> str:
    """A campaign or file name: letters, digits, ``_ . -``; no ``/``, no ``..``."""
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value) or ".." in value:
        raise ValueError(
            f"{key}: {value!r} is not a safe name; use 1-64 letters, digits, '_', '.', '-' "
            "starting with a letter or digit, without '..' or path separators"
        )
    return value


PATH_PART_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,254}$")


def check_results_dir(value: str, key: str) -> str:
    """A results directory, relative or absolute (``/scratch/alice/glassflow``).

    Every path part must be a plain name (letters, digits, ``_ . + -``, not starting
    with ``.`` or ``-``): no ``..``, no whitespace or newlines, no shell or glob
    characters (``$ ~ * ; | & ` '`` ...), no empty parts (``//``). One trailing ``/``
    is allowed. The value is not expanded: write ``/scratch/alice``, not
    ``/scratch/$USER`` (a shell expands ``--config results_dir=/scratch/$USER/...``).
    """
    parts = value.split("/") if isinstance(value, str) else []
    if parts and parts[0] == "":
        parts = parts[1:]  # absolute
    if parts and parts[-1] == "" and len(parts) > 1:
        parts = parts[:-1]  # one trailing slash
    bad = [p for p in parts if not PATH_PART_PATTERN.fullmatch(p) or p in (".", "..")]
    if not isinstance(value, str) or not parts or bad:
        where = f" (bad part {bad[0]!r})" if bad else ""
        raise ValueError(
            f"{key}: {value!r} is not a safe directory{where}; use a relative or absolute "
            "path whose parts are letters, digits, '_', '.', '+', '-' (not starting with "
            "'.' or '-'), without '..', spaces, '$', '~' or other shell characters"
        )
    return value


def check_element(value: str, key: str) -> str:
    """An element symbol such as ``Na`` or ``S``."""
    if not isinstance(value, str) or not ELEMENT_PATTERN.fullmatch(value):
        raise ValueError(f"{key}: {value!r} is not an element symbol (expected e.g. 'Na', 'S')")
    return value


def check_command(words: list[str], key: str) -> list[str]:
    """A command as an argument list; every word free of shell metacharacters."""
    if not isinstance(words, list) or not words:
        raise ValueError(f"{key}: expected a non-empty list of command words, got {words!r}")
    for w in words:
        if not isinstance(w, str) or not COMMAND_WORD_PATTERN.fullmatch(w) or ".." in w.split("/"):
            raise ValueError(
                f"{key}: command word {w!r} contains characters outside [A-Za-z0-9_./+=:,@%-] "
                "(no spaces, quotes, ';', '|', '&', '$', '`', or '..' path parts)"
            )
    return words


# --- text that reaches LAMMPS inputs ---------------------------------------------------
#
# LAMMPS reads its input line by line (docs.lammps.org, "Parsing rules for input
# scripts"): (1) a line whose last printable character is '&' is joined with the next
# one -- also when that '&' sits in a comment, so the next command becomes part of the
# comment; a line with an odd number of triple quotes is joined with the following lines
# up to the closing triple quote; (2) everything from the first '#' outside quotes is a
# comment; (3) '$x', '${name}' and '$(expr)' outside quotes are expanded. A newline
# starts a new command (e.g. ``shell ...``). LAMMPS expects 7-bit ASCII.
#
# Free text (citations, labels, names in comments) is therefore (a) validated where it
# is read (potential files: TEXT_PATTERN in their schema), and (b) written into inputs
# only through lammps_comment, which folds it onto one line of plain ASCII without '&',
# quotes, '$' or '#'. Words that are command arguments (file names, styles) go through
# lammps_word, which refuses anything but a plain token.

TEXT_PATTERN = r"^[\w .,;:()\[\]/+=%@§–-]*(?!\n)$"
_COMMENT_UNSAFE = re.compile(r"[^A-Za-z0-9 _.,;:()\[\]/+=%@-]")
_TRANSLITERATION = str.maketrans(
    {"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "ł": "l", "Ł": "L", "đ": "d",
     "§": "sec. ", "–": "-", "—": "-", "Å": "A", "å": "a"}
)  # fmt: skip
# no '*' or '%': LAMMPS expands them in file names (per-step / per-processor files)
LAMMPS_WORD_PATTERN = re.compile(r"^[A-Za-z0-9_./+-]+$")


def describe_char(ch: str) -> str:
    """``'&' (AMPERSAND)``, ``'\\n' (LINE FEED)``: a character and its Unicode name."""
    import unicodedata

    name = unicodedata.name(ch, "") or {"\n": "LINE FEED", "\r": "CARRIAGE RETURN"}.get(
        ch, f"U+{ord(ch):04X}"
    )
    return f"{ch!r} ({name})"


def first_unmatched_char(pattern: str, value: str) -> int | None:
    """Index of the first character after which ``value[:i + 1]`` no longer fits ``pattern``.

    For character-class patterns such as :data:`TEXT_PATTERN` this is the offending
    character; None when the whole value matches.
    """
    rx = re.compile(pattern)
    if rx.fullmatch(value):
        return None
    for i in range(len(value)):
        if not rx.fullmatch(value[: i + 1]):
            return i
    return len(value)


def lammps_comment(value: object, max_length: int = 200) -> str:
    """``value`` as text that cannot leave the LAMMPS comment it is written into.

    Folds all whitespace (newlines included) into single spaces, transliterates to
    ASCII, and replaces every character outside ``A-Za-z0-9 _.,;:()[]/+=%@-`` by '?':
    no newline, '&', triple quote, '$', '#', quote or backslash survives, so the result can
    neither start a command, nor continue the comment onto the next line, nor expand.
    """
    import unicodedata

    text = unicodedata.normalize("NFKD", str(value).translate(_TRANSLITERATION))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _COMMENT_UNSAFE.sub("?", " ".join(text.split()))
    return text[:max_length].rstrip()


def lammps_word(value: object, key: str = "value") -> str:
    """A single LAMMPS command argument (file name, style): a plain token or ValueError."""
    text = str(value)
    if not isinstance(value, str | int | float) or not LAMMPS_WORD_PATTERN.fullmatch(text):
        raise ValueError(
            f"LAMMPS input: {key} {value!r} is not a plain word; expected letters, digits "
            "and _ . / + - only (no spaces, quotes, '#', '$', '&', '*', '%' or newlines)"
        )
    return text
