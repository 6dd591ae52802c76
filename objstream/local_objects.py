"""Objects from a local folder instead of Object Storage: the local loop and the demo.

With `LOCAL_OBJECTS_DIR=/some/dir`, the object `<name>` in bucket `<bucket>` of namespace
`<namespace>` is the file `/some/dir/<namespace>/<bucket>/<name>`. Its eTag is derived from its
size and modification time, so an event about an older version is skipped as superseded, as
Object Storage's If-Match would have it. Everything after reading is the production pipeline.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
from pathlib import Path
from typing import TYPE_CHECKING

from function.errors import InvalidEvent, ObjectSkipped, ObjectStorageError
from function.ports import ObjectBody, RangedObject

if TYPE_CHECKING:
    from collections.abc import Mapping

    from function.core.deadline import Deadline
    from function.core.events import ObjectEvent


# The workstation's switch (never a function setting): read objects from this folder.
LOCAL_OBJECTS_DIR = "LOCAL_OBJECTS_DIR"


def local_objects_dir(env: Mapping[str, str]) -> Path | None:
    """The folder LOCAL_OBJECTS_DIR names in `env`, if it names one."""
    value = env.get(LOCAL_OBJECTS_DIR, "").strip()
    return Path(value).expanduser() if value else None


def local_etag(path: Path) -> str:
    """The eTag a local file stands for: changes whenever the file is rewritten."""
    stat = path.stat()
    return hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:32]


class LocalObjectReader:
    """`ObjectReader` over a folder laid out as `<namespace>/<bucket>/<object name>`."""

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()

    def path_of(self, namespace: str, bucket: str, name: str) -> Path:
        """Where an object lives; refuses names that would escape the folder."""
        path = (self.root / namespace / bucket / name).resolve()
        if not path.is_relative_to(self.root):
            raise ObjectSkipped(f"object name {name!r} points outside {self.root}")
        return path

    def _checked(self, event: ObjectEvent, deadline: Deadline) -> tuple[Path, str]:
        deadline.check(f"opening {event.resource_id}")
        path = self.path_of(event.namespace, event.bucket, event.object_name)
        if not path.is_file():
            raise ObjectSkipped("object no longer exists")
        etag = local_etag(path)
        if event.etag is not None and event.etag != etag:
            raise ObjectSkipped.overwritten(event.etag)
        return path, etag

    def open_ranged(self, event: ObjectEvent, deadline: Deadline) -> RangedObject:
        """The file for ranged reads; every read checks the eTag again, as If-Match does."""
        path, etag = self._checked(event, deadline)
        content_type, encoding = mimetypes.guess_type(path.name)
        try:
            handle = path.open("rb", buffering=0)
        except OSError as exc:
            raise ObjectStorageError(f"cannot read {path}: {exc.strerror}") from exc

        def fetch(start: int, length: int) -> bytes:
            deadline.check(f"reading {event.resource_id}")
            if local_etag(path) != etag:
                raise ObjectSkipped.overwritten(etag)
            return os.pread(handle.fileno(), length, start)

        return RangedObject(
            fetch,
            size=path.stat().st_size,
            etag=etag,
            content_type=content_type,
            content_encoding=encoding,
            on_close=handle.close,
        )

    def open(self, event: ObjectEvent, deadline: Deadline, *, start: int = 0) -> ObjectBody:
        """Open the file for `event` at byte `start`, checking its eTag like If-Match does."""
        path, etag = self._checked(event, deadline)
        content_type, encoding = mimetypes.guess_type(path.name)
        size = path.stat().st_size
        if start > size:
            raise InvalidEvent(
                f"the continuation resumes at byte {start} of {event.resource_id}, which has "
                f"{size} bytes"
            )
        try:
            raw = path.open("rb", buffering=0)
            raw.seek(start)
        except OSError as exc:
            raise ObjectStorageError(f"cannot read {path}: {exc.strerror}") from exc
        return ObjectBody(
            raw,
            etag=etag,
            content_length=size - start,
            content_type=content_type,
            content_encoding=encoding,
        )
