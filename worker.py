"""The RQ worker of the original stack: `python worker.py` serves the `ocr` queue on Redis, then
the low-priority `notify` queue (webhooks): RQ always takes the first non-empty queue first.

It runs jobs in its own process (RQ's SimpleWorker, no fork per job) so the OCR engine is
loaded once and stays warm. Job status lives in the job store, not in RQ.
"""

import sys
import time

from common import config, log, metrics, services


def banner(settings: config.Settings, queues: list[str]) -> str:
    line = "=" * 70
    return "\n".join(
        [
            line,
            "🚀 RQ Worker - PIX receipt pipeline",
            line,
            f"Redis: {log.redact_url(settings.redis_url)}",  # never its password
            f"Filas: {', '.join(queues)}",
            line,
            "",
        ]
    )


def main() -> int:
    import redis
    import rq

    settings = config.from_env()
    log.set_level(settings.log_level)
    queues = [settings.rq_queue_name, settings.rq_notify_queue_name]
    print(banner(settings, queues), flush=True)
    connection = redis.Redis.from_url(settings.redis_url)
    try:
        connection.ping()
    except redis.exceptions.ConnectionError as e:
        print(f"❌ Redis não disponível: {e}", flush=True)
        return 1
    print("✅ Conectado ao Redis", flush=True)
    if settings.metrics_port:
        depth_of = rq.Queue(settings.rq_queue_name, connection=connection)
        metrics.enable(queue_depth=lambda: depth_of.count)
        metrics.serve(settings.metrics_port, settings.metrics_host)
        host = f"[{settings.metrics_host}]" if ":" in settings.metrics_host else settings.metrics_host
        print(f"📈 Métricas em http://{host}:{settings.metrics_port}/metrics", flush=True)
    services.get().ocr.warm()
    while True:
        worker = rq.SimpleWorker([rq.Queue(name, connection=connection) for name in queues], connection=connection)
        print("✅ Worker iniciado, aguardando jobs...\n   (Ctrl+C para parar)", flush=True)
        try:
            # Returns on a stop request (SIGTERM, Ctrl+C), or when RQ gives up on an error.
            worker.work(with_scheduler=True, logging_level=settings.log_level)
            return 0
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as e:
            # Redis went away while a job was being finished: RQ gives up and its teardown fails
            # too. Idle, RQ waits for Redis by itself; so wait here as well and serve again, or
            # every job queued from now on would wait for a worker that is gone.
            print(f"⚠️ Redis perdido durante um job ({e}); aguardando o Redis voltar...", flush=True)
            _wait_for_redis(connection)


def _wait_for_redis(connection, pause: float = 1.0) -> None:
    import redis

    while True:
        try:
            connection.ping()
            return
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            time.sleep(pause)


if __name__ == "__main__":
    sys.exit(main())
