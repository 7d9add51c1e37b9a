"""What a store's location says: a file path or a server's URL, and how to show it."""

from __future__ import annotations

import os
import urllib.parse

__all__ = ["display_location", "is_url"]

_SCHEMES = ("postgresql://", "postgres://")


def is_url(location: str | os.PathLike[str]) -> bool:
    """Whether `location` names a database server (a URL), not a file path."""
    return isinstance(location, str) and location.startswith(_SCHEMES)


def display_location(location: str | os.PathLike[str]) -> str:
    """`location` as a person may read it: a URL without its password, whether in its
    user part or as a `password` parameter."""
    text = os.fspath(location)
    if not is_url(text):
        return text
    parts = urllib.parse.urlsplit(text)
    if parts.password is not None:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        parts = parts._replace(netloc=netloc)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    if any(name == "password" for name, _ in query):
        shown = [(name, "***" if name == "password" else value) for name, value in query]
        parts = parts._replace(query=urllib.parse.urlencode(shown, safe="*"))
    return urllib.parse.urlunsplit(parts)
