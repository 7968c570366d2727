import os
import threading

import pytest

from core.errors import StorageError
from core.keys import new_video_id
from core.storage import LocalStorage, with_retries


def test_put_read_ranges_and_delete(tmp_path):
    store = LocalStorage(tmp_path)
    vid = new_video_id()
    data = bytes(range(256)) * 2000  # 512000 bytes: several read chunks
    store.put(vid, "video.mp4", data, "video/mp4")
    assert store.size(vid, "video.mp4") == len(data)
    assert b"".join(store.read(vid, "video.mp4")) == data
    assert b"".join(store.read(vid, "video.mp4", 1000, 300_000)) == data[1000:300_001]
    assert store.names(vid) == ["video.mp4"]
    assert store.size(vid, "thumbnail.jpg") is None
    store.delete_all(vid)
    assert store.size(vid, "video.mp4") is None and store.names(vid) == []
    store.delete_all(vid)  # no error the second time


def test_keys_are_ids_and_known_names_never_client_paths(tmp_path):
    store = LocalStorage(tmp_path)
    for video_id, name in [("../etc", "video.mp4"), (new_video_id(), "../../x"), ("vid_1", "video.mp4")]:
        with pytest.raises(StorageError):
            store.put(video_id, name, b"x", "video/mp4")


def test_writes_are_atomic_for_concurrent_readers(tmp_path):
    """A reader polling while a large file is replaced sees only complete old or new content."""
    store = LocalStorage(tmp_path)
    vid = new_video_id()
    old, new = b"a" * 3_000_000, b"b" * 4_000_000
    store.put(vid, "video.mp4", old, "video/mp4")
    seen = set()
    done = threading.Event()

    def reader():
        while not done.is_set():
            body = b"".join(store.read(vid, "video.mp4"))
            seen.add((len(body), body[:1], body[-1:]))

    thread = threading.Thread(target=reader)
    thread.start()
    for _ in range(5):
        store.put(vid, "video.mp4", new, "video/mp4")
        store.put(vid, "video.mp4", old, "video/mp4")
    done.set()
    thread.join()
    assert seen <= {(len(old), b"a", b"a"), (len(new), b"b", b"b")}
    assert not [p for p in os.listdir(tmp_path / "videos" / vid) if p.endswith(".tmp")]


def test_unwritable_root_is_a_storage_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"not a folder")
    store = LocalStorage(blocker)
    with pytest.raises(StorageError):
        store.ping()
    with pytest.raises(StorageError):
        store.put(new_video_id(), "video.mp4", b"x", "video/mp4")


def test_with_retries_retries_storage_errors_then_gives_up():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise StorageError("down")
        return "ok"

    assert with_retries(flaky, attempts=3, backoff_s=0, what="t") == "ok"
    assert len(calls) == 3

    def down():
        calls.append(1)
        raise StorageError("still down")

    calls.clear()
    with pytest.raises(StorageError, match="still down"):
        with_retries(down, attempts=2, backoff_s=0, what="t")
    assert len(calls) == 2
