"""Peak memory per stage: the host probe against real allocations in this process, the tracker's bookkeeping,
and a job's ``memory`` field and shared histogram."""

from pathlib import Path

from core.metrics import read_stage_histograms
from core.video import STAGES
from worker.jobs import VideoJob, WorkerProcess
from worker.memory import HostPeak, probe_for
from worker.progress import ProgressTracker

MiB = 1024 * 1024


def test_the_host_probe_sees_a_stage_peak_and_forgets_it_at_reset():
    probe = HostPeak()
    probe.reset()
    before = probe.peak()
    block = b"\x01" * (200 * MiB)  # touched pages: resident
    del block
    during = probe.peak()
    assert during - before > 150 * MiB  # the peak outlives the freed block ...
    probe.reset()
    assert probe.peak() < during - 150 * MiB  # ... until the next stage starts
    assert probe.resettable


def test_without_a_resettable_high_water_mark_it_reports_the_resident_set(tmp_path: Path):
    probe = HostPeak(clear_refs=tmp_path / "missing" / "clear_refs")
    probe.reset()
    assert not probe.resettable
    resident = probe.peak()
    block = b"\x01" * (100 * MiB)
    assert probe.peak() - resident > 80 * MiB
    del block
    assert probe.peak() - resident < 20 * MiB


def test_probe_for_picks_by_device():
    assert isinstance(probe_for("cpu"), HostPeak)


class ScriptedProbe:
    """Peaks to report, one per stage end."""

    def __init__(self, peaks):
        self.peaks, self.resets = list(peaks), 0

    def reset(self):
        self.resets += 1

    def peak(self):
        return self.peaks.pop(0)


def test_the_tracker_keeps_each_stages_peak(ctx, queue_video):
    from core.video import VideoStatus

    vid = queue_video()
    ctx.records.transition(vid, [VideoStatus.QUEUED], VideoStatus.IN_PROGRESS, attempt=1)
    probe = ScriptedProbe([300, 500, 100])
    tracker = ProgressTracker(ctx.records, vid, 1, 0.0, memory=probe)
    for stage in (
        "reference",
        "base",
        "reference",
    ):  # a stage may come back (the pipeline's callbacks do not)
        tracker(stage, 0, 1)
    tracker.finish()
    assert probe.resets == 3
    assert tracker.peak_memory == {"reference": 300, "base": 500}  # the higher of reference's two runs


def test_a_job_records_peak_memory_per_stage(ctx, runtime, queue_video):
    vid = queue_video(num_frames=4, temporal_upsampling=1)
    assert VideoJob(WorkerProcess(ctx, runtime), vid, 1).run() == "completed"
    memory = ctx.records.get(vid).memory
    assert set(memory) == set(STAGES)
    assert all(50 * MiB < peak < 8 * 1024 * MiB for peak in memory.values())  # a torch process's resident set
    histogram = read_stage_histograms(ctx.redis, ctx.keys.stage_memory)
    assert histogram["decode"]["count"] == 1.0 and histogram["decode"]["sum"] == memory["decode"]
