"""Thread pools sized from the CPUs a worker may use: affinity, cgroup quota, workers per host, an explicit count."""

from __future__ import annotations

import pytest

from worker.threads import cgroup_quota, thread_count


@pytest.mark.parametrize(
    ("affinity", "quota", "per_host", "explicit", "expected"),
    [
        (2, None, 1, None, 2),  # alone on 2 cores: both
        (2, None, 2, None, 1),  # two workers on 2 cores: one each
        (16, None, 3, None, 5),  # rounded down
        (16, 4.0, 1, None, 4),  # the cgroup quota caps the affinity mask
        (16, 2.5, 1, None, 3),  # a fractional quota rounds up: 2.5 CPUs keep 3 threads busy part-time
        (4, 8.0, 2, None, 2),  # a quota above the mask changes nothing
        (1, None, 4, None, 1),  # never below one
        (16, 0.5, 1, None, 1),
        (2, None, 2, 6, 6),  # an explicit count wins
    ],
)
def test_thread_count(affinity, quota, per_host, explicit, expected):
    assert thread_count(affinity, quota, per_host, explicit) == expected


def test_cgroup_v2_quota(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cgroup_quota(tmp_path) == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_quota(tmp_path) is None


def test_cgroup_v1_quota(tmp_path):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("300000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_quota(tmp_path) == 3.0
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_quota(tmp_path) is None


def test_no_cgroup_files_means_no_quota(tmp_path):
    assert cgroup_quota(tmp_path) is None


def test_omp_num_threads_in_the_environment_counts_as_explicit(monkeypatch):
    from worker.threads import worker_threads

    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert worker_threads(workers_per_host=8) == 3
    assert worker_threads(workers_per_host=8, explicit=5) == 5
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert worker_threads(workers_per_host=10_000) == 1
