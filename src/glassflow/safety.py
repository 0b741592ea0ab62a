"""Checks for config strings that reach paths or command lines.

Names (campaign, file names) may not contain path separators, ``..`` or shell
metacharacters; element symbols must look like element symbols; command words are
checked word by word and always passed to tools as argument lists, never through a
shell.
"""

from __future__ import annotations

import re

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ELEMENT_PATTERN = re.compile(r"^[A-Z][a-z]?$")
COMMAND_WORD_PATTERN = re.compile(r"^[A-Za-z0-9_./+=:,@%-]+$")


def check_name(value: str, key: str) -> str:
    """A campaign or file name: letters, digits, ``_ . -``; no ``/``, no ``..``."""
    if not isinstance(value, str) or not NAME_PATTERN.match(value) or ".." in value:
        raise ValueError(
            f"{key}: {value!r} is not a safe name; use 1-64 letters, digits, '_', '.', '-' "
            "starting with a letter or digit, without '..' or path separators"
        )
    return value


def check_element(value: str, key: str) -> str:
    """An element symbol such as ``Na`` or ``S``."""
    if not isinstance(value, str) or not ELEMENT_PATTERN.match(value):
        raise ValueError(f"{key}: {value!r} is not an element symbol (expected e.g. 'Na', 'S')")
    return value


def check_command(words: list[str], key: str) -> list[str]:
    """A command as an argument list; every word free of shell metacharacters."""
    if not isinstance(words, list) or not words:
        raise ValueError(f"{key}: expected a non-empty list of command words, got {words!r}")
    for w in words:
        if not isinstance(w, str) or not COMMAND_WORD_PATTERN.match(w) or ".." in w.split("/"):
            raise ValueError(
                f"{key}: command word {w!r} contains characters outside [A-Za-z0-9_./+=:,@%-] "
                "(no spaces, quotes, ';', '|', '&', '$', '`', or '..' path parts)"
            )
    return words
