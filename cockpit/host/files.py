"""Writing a file the user named (an export, a new config): whole or not at all, and when it
cannot be written, why, in words."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


class WriteError(Exception):
    """The file was not written; the message names it and says why."""


def write_file(path: Path, text: str, *, mode: int = 0o644, parents: bool = False) -> None:
    """Write `text` to `path` through a temporary file in the same folder and a rename, so
    `path` holds the old content or the new one, never half of it (readers, such as a drill's
    world reading its control file, never see half a file). `parents` creates missing folders.
    Raises WriteError."""
    if parents:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WriteError(f"cannot write {path}: {reason(exc)}") from None
    problem = unwritable(path)
    if problem:
        raise WriteError(f"cannot write {path}: {problem}")
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {reason(exc)}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {reason(exc)}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def unwritable(path: Path) -> str | None:
    """Why `path` cannot be written as a file, when that can be told before trying."""
    if path.is_dir():
        return "it is a directory"
    parent = path.parent
    if not parent.exists():
        for ancestor in (parent, *parent.parents):
            if ancestor.exists():
                if not ancestor.is_dir():
                    return f"{ancestor} is not a directory"
                break
        return f"the directory {parent} does not exist (create it first)"
    if not parent.is_dir():
        return f"{parent} is not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"no permission to write in {parent}"
    if path.exists() and not os.access(path, os.W_OK):
        return "no permission to replace it"
    return None


def reason(exc: OSError) -> str:
    """An OSError in words: "permission denied", "read-only file system", ..."""
    text = exc.strerror or type(exc).__name__
    return text[0].lower() + text[1:] if text else "failed"
