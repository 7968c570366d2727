"""Object storage for video files: local disk (the default) or an S3-compatible bucket, behind one interface.

Objects are addressed by (video id, file name) from fixed sets, never by paths a client sent. Writes are atomic:
a reader sees the old object or the complete new one, never a partial file (local: write a temporary file in the
same folder, fsync, rename; S3: an object appears only when its upload completes). Every failure is raised as
``core.errors.StorageError``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from core.errors import StorageError
from core.keys import is_video_id
from core.settings import Settings
from core.video import INPUT_REFERENCE, SOURCE_UPLOAD, VARIANTS

logger = logging.getLogger(__name__)

FILE_NAMES = frozenset({*VARIANTS.values(), INPUT_REFERENCE, SOURCE_UPLOAD})
CHUNK_BYTES = 256 * 1024
T = TypeVar("T")


@dataclass(frozen=True)
class ObjectInfo:
    """What HTTP caching needs of a stored object: its size in bytes, a strong ``ETag`` (quoted, as the header
    carries it), when it was last written (unix seconds), and its path when it is a local file."""

    size: int
    etag: str
    last_modified: float
    path: Path | None = None


def _check(video_id: str, name: str | None = None) -> None:
    if not is_video_id(video_id):
        raise StorageError(f"not a video id: {video_id!r}")
    if name is not None and name not in FILE_NAMES:
        raise StorageError(f"not a stored file name: {name!r}")


class Storage(Protocol):
    kind: str

    def put(self, video_id: str, name: str, data: bytes, content_type: str) -> None:
        """Store ``data`` atomically, replacing any previous object."""

    def size(self, video_id: str, name: str) -> int | None:
        """Size in bytes, or None when the object does not exist."""

    def stat(self, video_id: str, name: str) -> ObjectInfo | None:
        """Size, ETag and modification time, or None when the object does not exist."""

    def read(self, video_id: str, name: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Chunks of bytes ``start..end`` (inclusive; ``end`` None = to the last byte)."""

    def delete_all(self, video_id: str) -> None:
        """Remove every object of a video (no error if there is none)."""

    def delete(self, video_id: str, names: Iterable[str]) -> None:
        """Remove these objects of a video (no error for missing ones), keeping its others."""

    def names(self, video_id: str) -> list[str]:
        """The file names a video has in storage."""

    def presigned_url(
        self, video_id: str, name: str, expires_s: int, content_type: str, disposition: str | None = None
    ) -> str | None:
        """A time-limited URL a client can GET directly (answered with ``Content-Type: content_type`` and, if
        given, ``Content-Disposition: disposition``), or None when the backend has none."""

    def ping(self) -> None:
        """Raise ``StorageError`` unless the store is reachable and usable."""


class LocalStorage:
    """Files under ``root/videos/<video id>/``."""

    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _dir(self, video_id: str) -> Path:
        _check(video_id)
        return self.root / "videos" / video_id

    def put(self, video_id: str, name: str, data: bytes, content_type: str) -> None:
        _check(video_id, name)
        folder = self._dir(video_id)
        tmp = folder / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, folder / name)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise StorageError(f"cannot write {video_id}/{name}: {exc}") from exc

    def size(self, video_id: str, name: str) -> int | None:
        info = self.stat(video_id, name)
        return None if info is None else info.size

    def stat(self, video_id: str, name: str) -> ObjectInfo | None:
        _check(video_id, name)
        path = self._dir(video_id) / name
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot stat {video_id}/{name}: {exc}") from exc
        # Every put writes a new file and renames it over the old: a new inode and mtime with new bytes.
        etag = f'"{st.st_size:x}-{st.st_mtime_ns:x}-{st.st_ino:x}"'
        return ObjectInfo(size=st.st_size, etag=etag, last_modified=st.st_mtime, path=path)

    def read(self, video_id: str, name: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        _check(video_id, name)
        try:
            handle = open(self._dir(video_id) / name, "rb")  # noqa: SIM115 (closed by the generator)
        except OSError as exc:
            raise StorageError(f"cannot read {video_id}/{name}: {exc}") from exc
        return self._chunks(handle, start, end)

    @staticmethod
    def _chunks(handle: Any, start: int, end: int | None) -> Iterator[bytes]:
        with handle:
            handle.seek(start)
            left = None if end is None else end - start + 1
            while left is None or left > 0:
                chunk = handle.read(CHUNK_BYTES if left is None else min(CHUNK_BYTES, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    def delete_all(self, video_id: str) -> None:
        try:
            shutil.rmtree(self._dir(video_id))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StorageError(f"cannot delete {video_id}: {exc}") from exc

    def delete(self, video_id: str, names: Iterable[str]) -> None:
        folder = self._dir(video_id)
        for name in names:
            _check(video_id, name)
            try:
                (folder / name).unlink(missing_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot delete {video_id}/{name}: {exc}") from exc

    def names(self, video_id: str) -> list[str]:
        folder = self._dir(video_id)
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.name in FILE_NAMES)

    def presigned_url(
        self, video_id: str, name: str, expires_s: int, content_type: str, disposition: str | None = None
    ) -> str | None:
        return None

    def ping(self) -> None:
        try:
            (self.root / "videos").mkdir(parents=True, exist_ok=True)
            probe = self.root / "videos" / f".ping.{secrets.token_hex(4)}"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise StorageError(f"data folder {self.root} is not writable: {exc}") from exc


class S3Storage:
    """Objects ``<prefix><video id>/<name>`` in one bucket, created if missing."""

    kind = "s3"

    def __init__(self, settings: Settings) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = settings.s3_bucket
        self.prefix = settings.s3_prefix
        config = Config(
            connect_timeout=2,
            read_timeout=10,
            retries={"max_attempts": 2, "mode": "standard"},
            signature_version="s3v4",
            s3={"addressing_style": "path"},
        )
        common = {
            "region_name": settings.s3_region,
            "aws_access_key_id": settings.s3_access_key_id,
            "aws_secret_access_key": (
                settings.s3_secret_access_key.get_secret_value() if settings.s3_secret_access_key else None
            ),
            "config": config,
        }
        self.client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url, **common)
        public = settings.s3_public_endpoint_url
        self.presigner = boto3.client("s3", endpoint_url=public, **common) if public else self.client
        self._bucket_ready = False

    def _key(self, video_id: str, name: str | None = None) -> str:
        _check(video_id, name)
        return f"{self.prefix}{video_id}/{name or ''}"

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn()
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"S3 {what} failed: {exc}") from exc

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        from botocore.exceptions import ClientError

        def ensure() -> None:
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                    raise
                logger.info("creating bucket %s", self.bucket)
                self.client.create_bucket(Bucket=self.bucket)

        self._call(f"bucket {self.bucket}", ensure)
        self._bucket_ready = True

    def put(self, video_id: str, name: str, data: bytes, content_type: str) -> None:
        key = self._key(video_id, name)
        self._ensure_bucket()
        self._call(
            f"put {key}",
            lambda: self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type),
        )

    def size(self, video_id: str, name: str) -> int | None:
        info = self.stat(video_id, name)
        return None if info is None else info.size

    def stat(self, video_id: str, name: str) -> ObjectInfo | None:
        from botocore.exceptions import ClientError

        key = self._key(video_id, name)
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
            return ObjectInfo(
                size=int(head["ContentLength"]),
                etag=head["ETag"],
                last_modified=head["LastModified"].timestamp(),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound", "NoSuchBucket"):
                return None
            raise StorageError(f"S3 head {key} failed: {exc}") from exc
        except Exception as exc:
            raise StorageError(f"S3 head {key} failed: {exc}") from exc

    def read(self, video_id: str, name: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        key = self._key(video_id, name)
        byte_range = f"bytes={start}-{'' if end is None else end}"
        body = self._call(
            f"get {key}",
            lambda: self.client.get_object(Bucket=self.bucket, Key=key, Range=byte_range)["Body"],
        )
        return self._chunks(body)

    def _chunks(self, body: Any) -> Iterator[bytes]:
        try:
            yield from body.iter_chunks(CHUNK_BYTES)
        finally:
            body.close()

    def names(self, video_id: str) -> list[str]:
        prefix = self._key(video_id)
        page = self._call(
            f"list {prefix}", lambda: self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        )
        return sorted(obj["Key"][len(prefix) :] for obj in page.get("Contents", []))

    def delete_all(self, video_id: str) -> None:
        prefix = self._key(video_id)
        names = self.names(video_id)
        if names:
            objects = [{"Key": prefix + n} for n in names]
            self._call(
                f"delete {prefix}",
                lambda: self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects}),
            )

    def delete(self, video_id: str, names: Iterable[str]) -> None:
        objects = [{"Key": self._key(video_id, name)} for name in names]
        if objects:
            self._call(
                f"delete {self._key(video_id)}",
                lambda: self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects}),
            )

    def presigned_url(
        self, video_id: str, name: str, expires_s: int, content_type: str, disposition: str | None = None
    ) -> str | None:
        key = self._key(video_id, name)
        params = {"Bucket": self.bucket, "Key": key, "ResponseContentType": content_type}
        if disposition is not None:
            params["ResponseContentDisposition"] = disposition
        return self._call(
            f"presign {key}",
            lambda: self.presigner.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_s),
        )

    def ping(self) -> None:
        self._bucket_ready = False
        self._ensure_bucket()


def build_storage(settings: Settings) -> Storage:
    """The store the settings name."""
    if settings.storage == "s3":
        return S3Storage(settings)
    return LocalStorage(settings.data_dir)


def with_retries(call: Callable[[], T], attempts: int, backoff_s: float, what: str) -> T:
    """Run ``call``; on ``StorageError`` try again up to ``attempts`` times in all, waiting ``backoff_s``,
    doubling. The last error propagates."""
    attempt = 1
    while True:
        try:
            return call()
        except StorageError as exc:
            if attempt >= attempts:
                raise
            delay = backoff_s * 2 ** (attempt - 1)
            logger.warning(
                "%s failed (attempt %d/%d), retrying in %.1fs: %s", what, attempt, attempts, delay, exc
            )
            time.sleep(delay)
            attempt += 1
