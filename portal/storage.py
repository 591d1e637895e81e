"""Where uploaded evidence lives: a private folder by default (object storage later, same interface).

Files are named by the portal, never by the person uploading: ``<sha256>-<random>.<ext>``. The folder is
EVIDENCE_FOLDER (default ``instance/evidence``), which must not be inside ``static/``: nothing here is
ever served except through the evidence download view, which checks who is asking.

Writes are atomic: the bytes go to a temporary file in the same folder, are flushed to disk, and only
then renamed into place, so a reader (or a crash) never sees half a file under a real name.
"""

import hashlib
import os
import re
import secrets
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from flask import current_app

from portal.config import ROOT

DEFAULT_FOLDER = ROOT / "instance" / "evidence"
EXTENSIONS = ("pdf", "jpg", "png")
# Exactly what save() makes: anything else (a path, "..", another extension) is not one of ours.
NAME = re.compile(r"^[0-9a-f]{64}-[0-9a-f]{16}\.(?:pdf|jpg|png)$")


class StorageError(RuntimeError):
    """The storage is set up wrongly (a programming or configuration error, not the user's)."""


class Storage:
    def __init__(self, folder: str | os.PathLike, static_folder: str | os.PathLike | None = None):
        self.folder = Path(folder).resolve()
        if static_folder is not None:
            static = Path(static_folder).resolve()
            if self.folder == static or static in self.folder.parents:
                raise StorageError(f"EVIDENCE_FOLDER must not be inside the static folder ({static})")

    @classmethod
    def from_config(cls) -> "Storage":
        """The storage the running app is configured with (EVIDENCE_FOLDER)."""
        folder = current_app.config.get("EVIDENCE_FOLDER") or DEFAULT_FOLDER
        return cls(folder, static_folder=current_app.static_folder)

    def save(self, data: bytes, extension: str) -> str:
        """Store the bytes under a new generated name and return the name."""
        if extension not in EXTENSIONS:
            raise StorageError(f"not an extension evidence is stored with: {extension!r}")
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{hashlib.sha256(data).hexdigest()}-{secrets.token_hex(8)}.{extension}"
        descriptor, temporary = tempfile.mkstemp(dir=self.folder, prefix=".upload-", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.folder / name)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self._sync_folder()
        return name

    def open(self, name: str) -> BinaryIO:
        """The stored file for reading (FileNotFoundError if it is not there)."""
        return open(self.path(name), "rb")

    def delete(self, name: str) -> None:
        """Remove a stored file (used to undo a save when the database write fails)."""
        self.path(name).unlink(missing_ok=True)
        self._sync_folder()

    def orphans(self, named: set[str] | frozenset[str], *, older_than: float = 0.0) -> list[Path]:
        """Files here that no database row names, last written more than older_than seconds ago.

        A process killed between save() and its database commit leaves its file behind (never the other
        way round: rows are committed only after their file is in place), and one killed inside save()
        leaves a ``.upload-*.tmp``. Both are found here. Keep older_than above the longest upload (an
        hour, say) on a running portal, so a file whose rows are still being written is left alone.
        """
        if not self.folder.is_dir():
            return []
        cutoff = time.time() - older_than
        found = []
        for path in self.folder.iterdir():
            ours = NAME.match(path.name) is not None and path.name not in named
            temporary = path.name.startswith(".upload-") and path.name.endswith(".tmp")
            if (ours or temporary) and path.is_file() and path.stat().st_mtime <= cutoff:
                found.append(path)
        return sorted(found)

    def remove_orphans(self, named: set[str] | frozenset[str], *, older_than: float = 3600.0) -> int:
        """Delete what orphans() finds (see there); returns how many files went."""
        gone = self.orphans(named, older_than=older_than)
        for path in gone:
            path.unlink(missing_ok=True)
        if gone:
            self._sync_folder()
        return len(gone)

    def path(self, name: str) -> Path:
        if not NAME.match(name or ""):
            raise FileNotFoundError(f"not a stored evidence name: {name!r}")
        return self.folder / name

    def _sync_folder(self) -> None:
        sync_to_disk(self.folder)


def sync_to_disk(path: str | os.PathLike) -> None:
    """fsync a file or folder (a folder: so a rename into it is durable on POSIX); skipped where it cannot be opened."""
    path = Path(path)
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if path.is_dir() else 0)
    try:
        descriptor = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
