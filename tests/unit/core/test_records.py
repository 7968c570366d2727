import time

import pytest
import redis

from core.keys import Keys, new_video_id
from core.records import VideoRecords
from core.video import VideoStatus, video_from_record

Q, P, C, F, X = (VideoStatus.QUEUED, VideoStatus.IN_PROGRESS, VideoStatus.COMPLETED, VideoStatus.FAILED,
                 VideoStatus.CANCELLED)  # fmt: skip


@pytest.fixture
def records(redis_url):
    return VideoRecords(redis.Redis.from_url(redis_url), Keys("t"))


def new_record(records, owner="alice", created_at=None):
    record = {"id": new_video_id(), "owner": owner, "status": "queued", "progress": 0, "attempt": 1,
              "created_at": time.time() if created_at is None else created_at,
              "params": {"prompt": "x", "fps": 8.0, "seed": 1}, "metadata": {}, "webhook_url": None}  # fmt: skip
    records.create(record)
    return record


def test_record_round_trip_and_public_object(records):
    r = new_record(records)
    got = records.get(r["id"])
    assert got["status"] == "queued" and got["attempt"] == 1 and got["params"]["seed"] == 1
    assert got["webhook_url"] is None and got["metadata"] == {}
    video = video_from_record(got, queue_position=3)
    assert video.status is Q and video.queue_position == 3 and video.links is None


def test_transitions_are_compare_and_set(records):
    r = new_record(records)
    vid = r["id"]
    assert records.transition(vid, [P], C) == 0  # not in progress
    assert records.transition(vid, [Q], P, {"started_at": 1.0}, attempt=2) == 0  # wrong attempt
    assert records.transition(vid, [Q], P, {"started_at": 1.0}, attempt=1) == 1
    assert records.redis.sismember(records.keys.running, vid)
    assert records.transition(vid, [P], X, expires_at=123.0) == 1
    assert not records.redis.sismember(records.keys.running, vid)
    assert records.redis.zscore(records.keys.expiry, vid) == 123.0
    # terminal: a late "completed" from the worker is refused
    assert records.transition(vid, [P], C, {"progress": 100}, attempt=1) == 0
    assert records.get(vid)["status"] == "cancelled"
    assert records.transition(new_video_id(), [Q], P) == -1


def test_progress_only_rises_and_only_for_the_running_attempt(records):
    vid = new_record(records)["id"]
    assert records.report_progress(vid, 1, 10, "base") == "queued"
    records.transition(vid, [Q], P)
    assert records.report_progress(vid, 1, 40, "base") == "in_progress"
    assert records.report_progress(vid, 1, 30, "super_resolution") == "in_progress"
    got = records.get(vid)
    assert (got["progress"], got["stage"]) == (40, "super_resolution")
    assert records.report_progress(vid, 2, 90, "decode") == "superseded"
    assert records.report_progress(new_video_id(), 1, 1, "base") == ""


def test_pages_are_newest_first_with_a_cursor_and_a_status_filter(records):
    t0 = time.time()
    made = [new_record(records, created_at=t0 + i)["id"] for i in range(7)]
    new_record(records, owner="bob")
    records.transition(made[2], [Q], X)
    records.transition(made[5], [Q], X)
    page, more = records.page("alice", 3)
    assert [r["id"] for r in page] == made[6:3:-1] and more
    page2, more2 = records.page("alice", 3, after=page[-1]["id"])
    assert [r["id"] for r in page2] == made[3:0:-1] and more2
    page3, more3 = records.page("alice", 3, after=page2[-1]["id"])
    assert [r["id"] for r in page3] == [made[0]] and not more3
    cancelled, more = records.page("alice", 10, status=X)
    assert [r["id"] for r in cancelled] == [made[5], made[2]] and not more
    with pytest.raises(KeyError):
        records.page("alice", 3, after=new_video_id())


def test_delete_removes_every_index_entry(records):
    r = new_record(records)
    records.transition(r["id"], [Q], P)
    records.delete(r)
    assert records.get(r["id"]) is None
    assert records.page("alice", 10) == ([], False)
    assert records.running_ids() == []
