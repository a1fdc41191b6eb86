"""Files only the platform's user may read: the database, its keys and its logs.

Chat sessions, the ledger and key hashes live in the data folder, so its files are created
owner-only (0600, the folder 0700), whatever the process's umask. SQLite gives its -wal and
-shm files the database file's own mode, so creating that file first covers them.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_file(path: Path) -> Path:
    """`path`, created empty if missing and made owner-only either way (its folder too, if new)."""
    path.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE))
    path.chmod(FILE_MODE)  # an older install's file, or a umask that kept bits
    return path


def write_private(path: Path, text: str) -> None:
    """Write `text` to a new owner-only file; FileExistsError if another process was first."""
    path.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE), "w") as file:
        file.write(text)
