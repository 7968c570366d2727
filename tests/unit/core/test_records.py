import time

import pytest
import redis
from pydantic import ValidationError

from core.keys import Keys, new_video_id
from core.records import VideoRecord, VideoRecords, encode_fields
from core.video import ErrorInfo, Priority, VideoParams, VideoStatus

Q, P, C, X = VideoStatus.QUEUED, VideoStatus.IN_PROGRESS, VideoStatus.COMPLETED, VideoStatus.CANCELLED


@pytest.fixture
def records(redis_url):
    return VideoRecords(redis.Redis.from_url(redis_url), Keys("t"))


def new_record(records, owner="alice", created_at=None):
    record = VideoRecord(
        id=new_video_id(),
        owner=owner,
        status=Q,
        created_at=time.time() if created_at is None else created_at,
        params=VideoParams(prompt="x", fps=8.0, seed=1, num_frames=16, size="64x48"),
    )
    records.create(record)
    return record


def test_record_round_trips_through_redis_and_derives_the_public_object(records):
    r = new_record(records)
    got = records.get(r.id)
    assert got == r  # every field, typed: the hash holds exactly the record
    assert got.status is Q and got.attempt == 1 and got.params.seed == 1 and got.priority is Priority.NORMAL
    assert got.webhook_url is None and got.metadata == {} and got.error is None
    video = got.to_video(queue_position=3)
    assert video.status is Q and video.queue_position == 3 and video.links is None
    # the OpenAI SDK's names and types: unix-second ints, seconds and size as strings
    assert video.created_at == int(r.created_at) and video.completed_at is None
    assert (video.prompt, video.seconds, video.size) == ("x", "2", "64x48")
    assert records.transition(r.id, [Q], P) == 1
    assert records.get(r.id).to_video(queue_position=3).queue_position is None  # only while queued


def test_writes_are_checked_against_the_record_type(records):
    r = new_record(records)
    with pytest.raises(ValueError, match="no field 'colour'"):
        records.set_fields(r.id, {"colour": "red"})
    with pytest.raises(ValidationError):
        records.set_fields(r.id, {"progress": "lots"})
    with pytest.raises(ValidationError):
        records.transition(r.id, [Q], P, {"error": {"code": "x"}})  # an ErrorInfo needs its message
    assert records.get(r.id) == r  # nothing was written
    encoded = encode_fields(
        {"error": ErrorInfo(code="timeout", message="late"), "stage": None, "progress": 7}
    )
    assert encoded == {"error": '{"code":"timeout","message":"late"}', "stage": "", "progress": "7"}


def test_a_hash_that_is_not_a_record_is_refused_and_unknown_fields_are_ignored(records):
    r = new_record(records)
    records.redis.hset(records.keys.video(r.id), "written_by_a_newer_release", "1")
    assert records.get(r.id) == r
    records.redis.hset(records.keys.video(r.id), "status", "exploded")
    with pytest.raises(ValidationError):
        records.get(r.id)


def test_transitions_are_compare_and_set(records):
    vid = new_record(records).id
    assert records.transition(vid, [P], C) == 0  # not in progress
    assert records.transition(vid, [Q], P, {"started_at": 1.0}, attempt=2) == 0  # wrong attempt
    assert records.transition(vid, [Q], P, {"started_at": 1.0}, attempt=1) == 1
    assert records.redis.sismember(records.keys.running, vid)
    assert records.transition(vid, [P], X, expires_at=123.0) == 1
    assert not records.redis.sismember(records.keys.running, vid)
    assert records.redis.zscore(records.keys.expiry, vid) == 123.0
    # terminal: a late "completed" from the worker is refused
    assert records.transition(vid, [P], C, {"progress": 100}, attempt=1) == 0
    assert records.get(vid).status == "cancelled"
    assert records.transition(new_video_id(), [Q], P) == -1


def test_progress_only_rises_and_only_for_the_running_attempt(records):
    vid = new_record(records).id
    assert records.report_progress(vid, 1, 10, "base") == "queued"
    records.transition(vid, [Q], P)
    assert records.report_progress(vid, 1, 40, "base") == "in_progress"
    assert records.report_progress(vid, 1, 30, "super_resolution") == "in_progress"
    got = records.get(vid)
    assert (got.progress, got.stage) == (40, "super_resolution")
    assert records.report_progress(vid, 2, 90, "decode") == "superseded"
    assert records.report_progress(new_video_id(), 1, 1, "base") == ""


def test_pages_are_newest_first_with_a_cursor_and_a_status_filter(records):
    t0 = time.time()
    made = [new_record(records, created_at=t0 + i).id for i in range(7)]
    new_record(records, owner="bob")
    records.transition(made[2], [Q], X)
    records.transition(made[5], [Q], X)
    page, more = records.page("alice", 3)
    assert [r.id for r in page] == made[6:3:-1] and more
    page2, more2 = records.page("alice", 3, after=page[-1].id)
    assert [r.id for r in page2] == made[3:0:-1] and more2
    page3, more3 = records.page("alice", 3, after=page2[-1].id)
    assert [r.id for r in page3] == [made[0]] and not more3
    cancelled, more = records.page("alice", 10, status=X)
    assert [r.id for r in cancelled] == [made[5], made[2]] and not more
    with pytest.raises(KeyError):
        records.page("alice", 3, after=new_video_id())
    oldest, more = records.page("alice", 3, ascending=True)
    assert [r.id for r in oldest] == made[:3] and more
    rest, more = records.page("alice", 10, after=oldest[-1].id, ascending=True)
    assert [r.id for r in rest] == made[3:] and not more


def test_delete_removes_every_index_entry(records):
    r = new_record(records)
    records.transition(r.id, [Q], P)
    records.delete(r)
    assert records.get(r.id) is None
    assert records.page("alice", 10) == ([], False)
    assert records.running_ids() == []
