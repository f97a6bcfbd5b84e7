"""The RQ worker of the original stack: `python worker.py` serves the `ocr` queue on Redis, then
the low-priority `notify` queue (webhooks): RQ always takes the first non-empty queue first.

It runs jobs in its own process (RQ's SimpleWorker, no fork per job) so the OCR engine is
loaded once and stays warm. Job status lives in the job store, not in RQ.
"""

import os
import socket
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
    app = services.get()
    app.ocr.warm()
    app.jobs, app.blobs  # noqa: B018 (their clients are built now, not on the first job)
    crowded = crowding(settings, _workers_here(connection))
    if crowded:
        print(f"⚠️ {crowded}", flush=True)
        log.event("ocr_cores_oversubscribed", severity="WARNING", message_detail=crowded)
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


def _workers_here(connection) -> int:
    """RQ workers already running on this machine (their process is alive)."""
    import rq

    here, alive = socket.gethostname(), 0
    for worker in rq.Worker.all(connection=connection):
        if worker.hostname == here and worker.pid and worker.pid != os.getpid():
            try:
                os.kill(worker.pid, 0)
            except ProcessLookupError:
                continue  # its key outlived it (killed without a chance to unregister)
            except PermissionError:
                pass  # alive, another user's
            alive += 1
    return alive


def crowding(settings: config.Settings, others: int) -> str:
    """A warning when this worker and the `others` on this machine ask onnxruntime for more
    threads than there are cores: they then only take turns on them, and a second worker adds no
    throughput (docs/operations.md#ocr-threads-and-workers). Empty when they fit."""
    cores = config.available_cores()
    if others == 0 or (others + 1) * settings.engine_threads <= cores:
        return ""
    return (
        f"{others + 1} OCR workers on this machine ask for {settings.engine_threads} threads each on {cores} cores: "
        f"they take turns on the cores and add no throughput; set OCR_WORKERS_PER_MACHINE={others + 1} "
        f"(OCR_THREADS {max(1, cores // (others + 1))} each) on every worker, or run this one elsewhere"
    )


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
