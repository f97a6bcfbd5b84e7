"""worker.py, the RQ worker of the original stack: what it prints at start-up. (It runs jobs in
tests/test_taskqueue.py and serves metrics in tests/test_metrics.py.)"""

from common import config
from worker import banner


def test_the_banner_shows_which_redis_without_its_password():
    settings = config.from_env({"REDIS_URL": "redis://default:s3cr3t-redis-pw@cache.internal:6380/0"})
    text = banner(settings, ["ocr", "notify"])
    assert "s3cr3t-redis-pw" not in text
    assert "Redis: redis://default:***@cache.internal:6380/0" in text
    assert "Filas: ocr, notify" in text
