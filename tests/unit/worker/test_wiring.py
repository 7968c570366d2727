"""The names that tie the API, the queue and the worker together resolve to what they say."""

from rq.utils import import_attribute

from core.queue import JOB_FUNCTION
from core.stages import JOB_STAGES, PIPELINE_STAGES, Stage
from worker import jobs
from worker.progress import INTERRUPTIBLE, STAGE_WEIGHTS, overall_percent


def test_the_queued_job_function_is_generate_video():
    assert import_attribute(JOB_FUNCTION) is jobs.generate_video


def test_every_stage_has_a_weight_and_the_weights_make_a_whole_job():
    assert list(STAGE_WEIGHTS) == list(JOB_STAGES)
    assert sum(STAGE_WEIGHTS.values()) == 100
    assert overall_percent(Stage.UPLOAD, 1, 1) == 99
    assert Stage.UPLOAD not in INTERRUPTIBLE and set(PIPELINE_STAGES) <= INTERRUPTIBLE


def test_the_pipeline_reports_the_core_stages():
    from models.pipeline_videogen import VideoGenPipeline

    assert VideoGenPipeline.stages == PIPELINE_STAGES
    assert [str(s) for s in JOB_STAGES[len(PIPELINE_STAGES) :]] == ["encode", "upload"]
