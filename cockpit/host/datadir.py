"""The data dir: where incidents, the audit log, locks, runs and exports are kept.

One data dir may be shared by every engineer on a bastion (`[cockpit] data_dir`). Then each
file one account creates must be writable by the others, or the second engineer's cockpit can
neither record nor be audited. A dir is shared when it carries the setgid bit (files and
folders made in it then belong to its group) or when `[cockpit] data_group` names a group:
everything the cockpit creates in it is then group-writable (rw-rw----, folders rwxrws---),
whatever the umask says. A private data dir keeps the umask's modes.
"""

from __future__ import annotations

import contextlib
import grp
import os
import stat
from pathlib import Path

FILE_MODE_SHARED = 0o660
DIR_MODE_SHARED = 0o2770


class DataDirError(Exception):
    """The data dir cannot be used; the message says why and what to do, in one line."""


def describe_os_error(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def ensure_data_dir(path: Path, group: str | None = None) -> Path:
    """Create the data dir if needed and check that it is a usable folder.

    With `group`, the dir is made (or checked to be) owned by that group and setgid, so every
    file in it follows. Raises DataDirError with a message fit for a person.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise DataDirError(f"data dir is a file, not a directory: {path}") from None
    except NotADirectoryError:
        raise DataDirError(f"data dir is under a file, not a directory: {path}") from None
    except OSError as exc:
        raise DataDirError(
            f"cannot create the data dir ({describe_os_error(exc)}): {path}"
        ) from None
    if not path.is_dir():
        raise DataDirError(f"data dir is a file, not a directory: {path}")
    if not os.access(path, os.R_OK | os.X_OK):
        raise DataDirError(f"data dir is not readable by this account: {path}")
    if group:
        _claim_group(path, group)
    return path


def _claim_group(path: Path, group: str) -> None:
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        raise DataDirError(f"data_group {group!r}: no such group on this host") from None
    info = path.stat()
    if info.st_gid == gid and info.st_mode & stat.S_ISGID:
        return
    try:
        if info.st_gid != gid:
            os.chown(path, -1, gid)
        os.chmod(path, (stat.S_IMODE(info.st_mode) | 0o070 | stat.S_ISGID) & ~0o007)
    except OSError as exc:
        raise DataDirError(
            f"data dir {path} should belong to group {group} and be setgid "
            f"({describe_os_error(exc)}); as its owner run: chgrp {group} {path} && "
            f"chmod 2770 {path}"
        ) from None


def shared(folder: Path) -> bool:
    """True when files made in `folder` are meant for the whole group (setgid folder)."""
    try:
        return bool(folder.stat().st_mode & stat.S_ISGID)
    except OSError:
        return False


def make_dir(path: Path) -> Path:
    """mkdir -p inside a data dir: group-writable and setgid when its parent is shared."""
    if path.is_dir():
        return path
    parent = path.parent
    if not parent.is_dir():
        make_dir(parent)
    with contextlib.suppress(FileExistsError):
        path.mkdir()
        if shared(parent):
            # Linux copies setgid from the parent; the mode the umask took away is put back.
            with contextlib.suppress(OSError):
                os.chmod(path, DIR_MODE_SHARED)
    return path


def fix_mode(fd: int, folder: Path) -> None:
    """Give a file this process just created the group's rights when its folder is shared."""
    if not shared(folder):
        return
    with contextlib.suppress(OSError):
        info = os.fstat(fd)
        if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) != FILE_MODE_SHARED:
            os.fchmod(fd, FILE_MODE_SHARED)


def open_file(path: Path, flags: int, mode: int = 0o644) -> int:
    """os.open for files in the data dir: a new file gets the group's rights when shared."""
    existed = path.exists()
    fd = os.open(path, flags | os.O_CLOEXEC, FILE_MODE_SHARED if shared(path.parent) else mode)
    if not existed:
        fix_mode(fd, path.parent)
    return fd


def touch(path: Path, mode: int = 0o644) -> None:
    """Create `path` if it does not exist yet, with the rights `open_file` gives."""
    if path.exists():
        return
    with contextlib.suppress(FileExistsError):
        fd = open_file(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        os.close(fd)


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` in one step (a reader sees the old or the new file)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = open_file(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
