"""The service's virtual users and the files they see over FTP, SFTP and WebDAV.

Every account shares one password, made fresh for each world and written to
`files.password` (mode 0600) in the world directory, where probes read it like a secret file.
Each probe has its own account: the session bug is per user, so two probes of one user polling
in step would trip over each other instead of over the bug. `drill` is for people and tests.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from pathlib import Path

from cockpit.host.files import write_file

PASSWORD_FILE = "files.password"
FILES_DIR = "files"
DRILL_USER = "drill"
# Customers of the background traffic (HTTP users and WebDAV accounts alike).
CUSTOMERS = (
    "acme-backup",
    "globex-sync",
    "initech-etl",
    "umbrella-ftp",
    "hooli-media",
    "stark-archive",
    "wayne-reports",
    "tyrell-ingest",
)
MONITORS = tuple(
    f"monitor-{protocol}{suffix}"
    for protocol in ("ftp", "sftp", "webdav")
    for suffix in ("", "-x4")
)

# A small tree, the same over every protocol.
_TREE: dict[str, str] = {
    "README.txt": "files-web drill share: nothing here is real.\n",
    "inbox/.keep": "",
    "exports/2026-11-20.csv": "id,amount\n1,42.00\n2,17.50\n",
    "exports/2026-11-21.csv": "id,amount\n3,8.25\n",
    "invoices/INV-1001.txt": "Invoice 1001: 3 widgets\n",
    "backups/nightly/manifest.json": '{"files": 3, "bytes": 1234}\n',
    "media/raw/.keep": "",
    "shared/notes.md": "# Shared\n\nSync jobs read from exports/.\n",
}


def make_files(root: Path) -> Path:
    for relative, text in _TREE.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


class Accounts:
    def __init__(self, users: Iterable[str], password: str):
        self.users = frozenset(users)
        self._password = password.encode()

    @classmethod
    def create(cls, directory: Path) -> Accounts:
        """Fresh accounts for a world; the password goes to `directory/files.password`."""
        password = secrets.token_urlsafe(18)
        write_file(directory / PASSWORD_FILE, password + "\n", mode=0o600, parents=True)
        return cls((DRILL_USER, *CUSTOMERS, *MONITORS), password)

    def password_for(self, user: str) -> str:
        """Only for the world's own clients (traffic); None of this is ever logged."""
        if user not in self.users:
            raise KeyError(user)
        return self._password.decode()

    def check(self, user: str, password: str | bytes) -> bool:
        given = password.encode() if isinstance(password, str) else password
        # Compare even for unknown users, so timing does not tell which names exist.
        matches = hmac.compare_digest(given, self._password)
        return matches and user in self.users
