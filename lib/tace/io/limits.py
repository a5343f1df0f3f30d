"""Files from elsewhere read within bounds: a size cap, a regular file, YAML without aliases,
JSON of bounded depth, and error messages that quote at most a short excerpt.

A profile or a bundle may come from another site. Read naively, a 353-byte YAML "billion
laughs" (anchors and aliases that expand exponentially) runs for minutes and exhausts memory,
and a JSON nested 200,000 levels deep overflows the parser's stack. Here YAML aliases are
refused at composition (before anything is expanded), JSON's nesting is measured before it is
parsed, and every file is refused past its size cap without being read.

References
----------
CWE-776: Improper Restriction of Recursive Entity References ("billion laughs").
"""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path
from typing import Any

import numpy as np
import yaml

__all__ = ["JSON_MAX_DEPTH", "LimitError", "excerpt", "json_depth", "load_json", "load_yaml", "read_capped"]

#: How deep a JSON document tace reads may nest (a bundle manifest nests 5 levels).
JSON_MAX_DEPTH = 64


class LimitError(ValueError):
    """A file that is not what tace reads: too large, not a regular file, YAML with aliases,
    JSON nested too deeply, or not parseable; the message names the file."""


def excerpt(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, for an error message that must not repeat a
    large input.

    >>> excerpt("x" * 200, 20)
    "'xxxxxxxxxxxxx... (202 characters)"
    """
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 6]}... ({len(text)} characters)"


def read_capped(path: Path | str, max_bytes: int, what: str) -> bytes:
    """The bytes of the regular file ``path``, refused unread when it is larger than
    ``max_bytes`` or not a regular file (a FIFO or a device would block or never end)."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise LimitError(f"{what} {path}: not found") from None
    except OSError as exc:
        raise LimitError(f"{what} {path}: cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise LimitError(f"{what} {path}: not a regular file; expected a file")
    if st.st_size > max_bytes:
        raise LimitError(f"{what} {path}: {st.st_size:,} bytes; expected at most {max_bytes:,}")
    with path.open("rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:  # grew since stat
        raise LimitError(f"{what} {path}: more than {max_bytes:,} bytes; expected at most {max_bytes:,}")
    return data


class _NoAliases(yaml.SafeLoader):
    """PyYAML's safe loader that refuses an alias (``*name``, ``<<: *name``) where it meets it,
    before any node is shared or expanded."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, f"an alias (*{event.anchor}) refers to another part of the "
                                              "file; expected every value written out (aliases are refused)",
                                              event.start_mark)
        return super().compose_node(parent, index)


def load_yaml(path: Path | str, max_bytes: int, what: str) -> Any:
    """Parse the YAML file ``path`` (at most ``max_bytes``) with the safe loader, refusing
    aliases.

    Raises
    ------
    LimitError
        Naming the file, and the line for a YAML error.
    """
    data = read_capped(path, max_bytes, what)
    try:
        return yaml.load(data.decode("utf-8"), Loader=_NoAliases)  # noqa: S506 (a SafeLoader subclass)
    except UnicodeDecodeError as exc:
        raise LimitError(f"{what} {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise LimitError(f"{what} {path}: not valid YAML{at}: {excerpt(problem, 200)[1:-1]}") from None
    except RecursionError:
        raise LimitError(f"{what} {path}: nested too deeply to be a settings file") from None


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def json_depth(data: bytes) -> int:
    """How deeply the JSON text ``data`` nests arrays and objects, measured without parsing it
    (brackets inside strings do not count).

    >>> json_depth(b'{"a": [1, {"b": "]]]"}]}')
    3
    """
    bare = np.frombuffer(_JSON_STRING.sub(b'""', data), dtype=np.uint8)
    step = (np.isin(bare, (ord("["), ord("{")))).astype(np.int64) - np.isin(bare, (ord("]"), ord("}")))
    return int(np.cumsum(step).max()) if len(step) else 0


def load_json(path: Path | str, max_bytes: int, what: str, max_depth: int = JSON_MAX_DEPTH) -> Any:
    """Parse the JSON file ``path``: at most ``max_bytes`` and ``max_depth`` levels deep.

    Raises
    ------
    LimitError
        Naming the file and what was expected.
    """
    data = read_capped(path, max_bytes, what)
    depth = json_depth(data)
    if depth > max_depth:
        raise LimitError(f"{what} {path}: nested {depth} levels deep; expected at most {max_depth}")
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise LimitError(f"{what} {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise LimitError(f"{what} {path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") \
            from None
