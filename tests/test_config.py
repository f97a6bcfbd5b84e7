import dataclasses
import os

import pytest

from common import config, tenants


def test_defaults_are_the_embedded_local_mode():
    settings = config.from_env({})
    assert (settings.blob_store, settings.job_store, settings.task_queue) == ("local", "sqlite", "inline")
    assert settings.max_upload_bytes == 16 * 1024 * 1024
    assert settings.max_request_bytes > settings.max_upload_bytes
    assert not settings.expected_receiver_configured


def test_values_are_read_and_lists_split():
    settings = config.from_env(
        {
            "BLOB_STORE": "GCS",
            "GCS_BUCKET": "b",
            "MAX_UPLOAD_BYTES": "100",
            "EXPECTED_RECEIVER_PIX_KEYS": " a@b.com , +5511999990000 ,",
        }
    )
    assert settings.blob_store == "gcs" and settings.gcs_bucket == "b" and settings.max_upload_bytes == 100
    assert settings.expected_receiver_pix_keys == ("a@b.com", "+5511999990000")
    assert settings.expected_receiver_configured


@pytest.mark.parametrize(
    "env",
    [
        {"BLOB_STORE": "s3"},
        {"JOB_STORE": "mongo"},
        {"MAX_UPLOAD_BYTES": "lots"},
        {"MAX_UPLOAD_BYTES": "0"},
        {"TASK_QUEUE": "kafka"},
        {"TASK_QUEUE": "cloudtasks"},
        {"SYNC_FALLBACK": "maybe"},
    ],
)
def test_bad_values_fail_at_start_up_naming_the_variable(env):
    with pytest.raises(config.ConfigError, match=next(iter(env))):
        config.from_env(env)


def test_log_level_filters_events(capsys):
    from common import log

    try:
        log.set_level(config.from_env({"LOG_LEVEL": "warning"}).log_level)
        log.event("quiet")
        log.event("loud", severity="ERROR", job_id="x")
    finally:
        log.set_level("INFO")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and '"event": "loud"' in lines[0] and '"severity": "ERROR"' in lines[0]


def test_the_originals_rq_async_enabled_false_means_synchronous():
    assert config.from_env({"TASK_QUEUE": "rq", "RQ_ASYNC_ENABLED": "false"}).task_queue == "inline"
    assert config.from_env({"TASK_QUEUE": "rq", "RQ_ASYNC_ENABLED": "true"}).task_queue == "rq"


def test_the_lease_outlasts_the_job_timeout_by_default():
    assert config.from_env({"JOB_TIMEOUT_SECONDS": "100"}).job_lease_seconds == 160
    assert config.from_env({"JOB_LEASE_SECONDS": "7"}).job_lease_seconds == 7


def test_webhook_secrets_are_per_tenant_with_a_fallback_for_a_single_tenant():
    digest = "ab" * 32
    secrets = f"{digest}=secret-of-that-key, *=secret-for-everyone"
    settings = config.from_env({"API_KEY_HASHES": digest, "WEBHOOK_SECRETS": secrets})
    assert settings.webhook_secrets == ((digest, "secret-of-that-key"), ("*", "secret-for-everyone"))
    assert tenants.webhook_secret(settings, digest) == (digest, "secret-of-that-key")
    local = config.from_env({"REQUIRE_API_KEY": "false", "WEBHOOK_SECRETS": secrets})
    assert tenants.webhook_secret(local, tenants.DEFAULT) == ("*", "secret-for-everyone")
    none = config.from_env({"REQUIRE_API_KEY": "false", "WEBHOOK_SECRETS": " "})  # Terraform's "none"
    assert none.webhook_secrets == () and tenants.webhook_secret(none, tenants.DEFAULT) is None
    assert config.from_env({}).webhook_allow_private_urls is False


@pytest.mark.parametrize(
    "value, message",
    [
        ("not-a-digest=secret-long-enough-1", "entry 1 starts with neither an API key digest, a TENANTS name nor"),
        ("*=short", "shorter than 16"),
        ("*", "shorter than 16"),
    ],
)
def test_bad_webhook_secrets_are_refused_at_start(value, message):
    with pytest.raises(config.ConfigError, match=message):
        config.from_env({"WEBHOOK_SECRETS": value})


def test_the_configuration_table_in_docs_is_the_one_the_code_declares():
    from tools import config_table

    with open(config_table.DOC, encoding="utf-8") as f:
        documented = config_table.table_in(f.read())
    assert documented == config.markdown_table(), "docs/configuration.md is stale: run python -m tools.config_table"


def test_a_setting_changed_in_the_code_makes_the_table_differ(monkeypatch):
    from tools import config_table

    with open(config_table.DOC, encoding="utf-8") as f:
        text = f.read()
    first, *others = config.variables()
    changed = dataclasses.replace(first, default="another-project")
    monkeypatch.setattr(config, "variables", lambda: [changed, *others])
    assert config_table.table_in(text) != config.markdown_table()
    assert "`another-project`" in config_table.table_in(config_table.rewrite(text))


def test_every_setting_is_declared_once_with_the_default_it_parses_to():
    variables = config.variables()
    names = [v.name for v in variables]
    assert len(names) == len(set(names))
    assert len(config.fields(config.Settings)) == len(variables) - len(config.OTHER_VARIABLES)
    assert config.from_env({}) == config.Settings()
    assert all(v.description for v in variables)


def test_a_raw_key_in_api_key_hashes_is_named_by_its_place_and_never_echoed():
    raw_key = "sk-live-this-is-the-key-itself"
    digest = "a" * 64
    with pytest.raises(config.ConfigError) as caught:
        config.from_env({"API_KEY_HASHES": f"{digest},{raw_key}"})
    message = str(caught.value)
    assert "entry 2" in message and "API_KEY_HASHES" in message
    assert raw_key not in message and raw_key[:6] not in message


def test_a_malformed_webhook_secrets_entry_is_named_by_its_place_and_never_echoed():
    raw_key, secret = "sk-live-this-is-the-key-itself", "a-secret-long-enough-123"
    with pytest.raises(config.ConfigError) as caught:
        config.from_env({"WEBHOOK_SECRETS": f"*={secret},{raw_key}={secret}"})
    assert "entry 2" in str(caught.value)
    assert raw_key[:6] not in str(caught.value) and secret not in str(caught.value)
    with pytest.raises(config.ConfigError) as short:
        config.from_env({"WEBHOOK_SECRETS": f"{'b' * 64}=short-secret"})
    assert "entry 1" in str(short.value) and "short-secret" not in str(short.value)


def test_the_engine_gets_its_share_of_the_cores_this_process_may_use():
    cores = config.available_cores()
    assert cores == len(os.sched_getaffinity(0))
    assert config.from_env({}).engine_threads == cores
    assert config.from_env({"OCR_WORKERS_PER_MACHINE": str(cores)}).engine_threads == 1
    assert config.from_env({"OCR_WORKERS_PER_MACHINE": str(cores * 4)}).engine_threads == 1  # at least one
    assert config.from_env({"OCR_THREADS": "3", "OCR_WORKERS_PER_MACHINE": "2"}).engine_threads == 3
