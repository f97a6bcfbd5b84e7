"""worker.py, the RQ worker of the original stack: what it prints at start-up. (It runs jobs in
tests/test_taskqueue.py and serves metrics in tests/test_metrics.py.)"""

from common import config
from worker import banner, crowding


def test_the_banner_shows_which_redis_without_its_password():
    settings = config.from_env({"REDIS_URL": "redis://default:s3cr3t-redis-pw@cache.internal:6380/0"})
    text = banner(settings, ["ocr", "notify"])
    assert "s3cr3t-redis-pw" not in text
    assert "Redis: redis://default:***@cache.internal:6380/0" in text
    assert "Filas: ocr, notify" in text


def test_a_worker_alone_or_with_its_share_of_the_cores_is_not_warned():
    cores = config.available_cores()
    assert crowding(config.from_env({}), others=0) == ""
    if cores >= 2:  # two workers, each with its half of the cores
        assert crowding(config.from_env({"OCR_WORKERS_PER_MACHINE": "2"}), others=1) == ""


def test_a_second_worker_asking_for_every_core_is_warned_with_the_fix():
    cores = config.available_cores()
    text = crowding(config.from_env({"OCR_THREADS": str(cores)}), others=1)
    assert f"2 OCR workers on this machine ask for {cores} threads each on {cores} cores" in text
    assert "OCR_WORKERS_PER_MACHINE=2" in text
