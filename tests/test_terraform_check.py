"""tools/terraform_check.py: what `terraform validate` would say about terraform/, offline. Every
reference resolves, and the google provider's own schema (the jsii assembly of the pinned
@cdktf/provider-google, fetched by scripts/setup.sh) accepts every argument and block. Broken
copies of terraform/ prove both checks refuse what validate refuses.

The schema is a fail in CI when it cannot be had, and a visible skip elsewhere only without npm.
`pytest -k provider_schema` runs the schema tests.
"""

from __future__ import annotations

import shutil

import pytest

from tests.helpers import TF_DIR, missing
from tools import terraform_check

# Arguments terraform/ uses that the schema (provider 6.50) does not have because they are newer,
# as {"resource_type.block.argument": why}. None today: everything terraform/ writes is in 6.50.
NEWER_THAN_THE_SCHEMA: dict[str, str] = {}


@pytest.fixture(scope="session")
def provider_schema() -> dict:
    try:
        return terraform_check.load_schema()
    except terraform_check.SchemaUnavailable as e:
        missing(f"the google provider schema ({e})")


def broken_copy(tmp_path, edits: dict[str, list[tuple[str, str]]]) -> str:
    """A copy of terraform/ with each (old, new) text replaced in the named file."""
    copy = tmp_path / "terraform"
    shutil.copytree(TF_DIR, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    for name, replacements in edits.items():
        text = (copy / name).read_text()
        for old, new in replacements:
            assert old in text, (name, old)
            text = text.replace(old, new, 1)
        (copy / name).write_text(text)
    return str(copy)


# --- terraform/ as it is -------------------------------------------------------------------------


def test_every_reference_in_terraform_resolves():
    assert terraform_check.reference_problems(terraform_check.Config(TF_DIR)) == []


def test_provider_schema_has_every_attribute_terraform_reads(provider_schema):
    assert terraform_check.reference_problems(terraform_check.Config(TF_DIR), provider_schema) == []


def test_provider_schema_accepts_every_argument_and_block_of_terraform(provider_schema):
    config = terraform_check.Config(TF_DIR)
    assert config.resources and config.data  # the check looked at something
    assert terraform_check.schema_problems(config, provider_schema, NEWER_THAN_THE_SCHEMA) == []


def test_provider_schema_is_the_pinned_package_reduced(provider_schema):
    assert provider_schema["source"] == "@cdktf/provider-google@16.12.1"
    assert provider_schema["integrity"] == terraform_check.INTEGRITY
    assert len(provider_schema["resource"]) > 1000 and len(provider_schema["data"]) > 300
    bucket = provider_schema["blocks"][provider_schema["resource"]["google_storage_bucket"]]
    assert bucket["arguments"]["name"] == {"required": True, "type": "string"}
    assert bucket["arguments"]["labels"]["type"] == ["map", "string"]
    rule = bucket["arguments"]["lifecycle_rule"]
    assert (rule["nesting"], rule["required"]) == ("list", False)
    condition = provider_schema["blocks"][rule["block"]]["arguments"]["condition"]
    assert (condition["nesting"], condition["required"]) == ("single", True)
    assert "with_state" in provider_schema["blocks"][condition["block"]]["arguments"]
    assert "self_link" in bucket["attributes"]  # computed: readable, not an argument
    assert "self_link" not in bucket["arguments"]


def test_provider_schema_tarball_is_refused_unless_its_digest_is_pinned(tmp_path):
    fake = tmp_path / "cdktf-provider-google.tgz"
    fake.write_bytes(b"not the package")
    with pytest.raises(terraform_check.SchemaUnavailable, match="is not the pinned"):
        terraform_check.verify(str(fake))
    assert not fake.exists()


# --- broken copies -------------------------------------------------------------------------------


def test_provider_schema_refuses_a_misspelt_argument_and_a_wrong_nested_block(tmp_path, provider_schema):
    broken = broken_copy(
        tmp_path,
        {
            "storage.tf": [
                ('  storage_class               = "STANDARD"', '  storage_clas                = "STANDARD"'),
                ("  versioning {\n    enabled = true\n  }", "  versioning = {\n    enabled = true\n  }"),
                (
                    "    condition {\n      days_since_noncurrent_time",
                    "    conditions {\n      days_since_noncurrent_time",
                ),
            ],
            "tasks.tf": [("  rate_limits {", "  rate_limit {")],
            "scheduler.tf": [("    retry_count = 0", '    retry_count = "none"')],
        },
    )
    problems = terraform_check.schema_problems(terraform_check.Config(broken), provider_schema)
    assert sorted(problems) == sorted(
        [
            "google_cloud_scheduler_job.reconcile: retry_config: retry_count: expected a number, got the string 'none'",
            "google_cloud_tasks_queue.ocr: rate_limit: google_cloud_tasks_queue has no such argument or block "
            "in the provider's schema",
            "google_storage_bucket.receipts: storage_clas: google_storage_bucket has no such argument or block "
            "in the provider's schema",
            "google_storage_bucket.receipts: versioning: is a block in the provider's schema: "
            "write `versioning { ... }`, not `versioning = ...`",
            "google_storage_bucket.receipts: lifecycle_rule: conditions: google_storage_bucket.lifecycle_rule has no "
            "such argument or block in the provider's schema",
            "google_storage_bucket.receipts: lifecycle_rule: the required block condition is missing",
        ]
    )


def test_a_reference_to_something_not_declared_is_refused(tmp_path):
    """The bug this check was written for: scheduler.tf depended on the v2 IAM member while
    iam.tf declares the v1 one; `terraform validate` refuses that, and so does this."""
    broken = broken_copy(
        tmp_path,
        {
            "scheduler.tf": [
                (
                    "[google_cloud_run_service_iam_member.ocr_invoker]",
                    "[google_cloud_run_v2_service_iam_member.ocr_invoker]",
                )
            ],
            "functions.tf": [
                ("tostring(var.ocr_concurrency)", "tostring(var.ocr_concurency)"),
                ("data.google_project.this.number", "data.google_project.that.number"),
            ],
            "outputs.tf": [("local.ocr_audience", "local.ocr_audiences")],
            "storage.tf": [("${each.key}.zip", "${count.index}.zip")],
        },
    )
    problems = terraform_check.reference_problems(terraform_check.Config(broken))
    assert problems == [
        "google_cloud_scheduler_job.reconcile: google_cloud_run_v2_service_iam_member.ocr_invoker: no such resource",
        "google_cloudfunctions2_function.ocr: data.google_project.that.number: no such data source",
        "google_cloudfunctions2_function.ocr: var.ocr_concurency: no such variable",
        "google_storage_bucket_object.source: count.index: `count` outside a block with count",
        "output ocr_oidc_audience: local.ocr_audiences: no such local value",
    ]


def test_dynamic_blocks_are_checked_as_the_blocks_they_make(tmp_path, provider_schema):
    """The tenants' PSP credentials are `dynamic` secret_environment_variables and secret_volumes:
    their content is checked against the schema like a written block, and their iterator is a
    reference only inside them."""
    broken = broken_copy(
        tmp_path,
        {
            "functions.tf": [
                ("        mount_path = secret_volumes.value.dir", "        mount_pth = secret_volumes.value.dir"),
                (
                    "          path    = secret_volumes.value.file",
                    "          path    = secret_environment_variables.value",
                ),
            ]
        },
    )
    config = terraform_check.Config(broken)
    assert terraform_check.schema_problems(config, provider_schema) == [
        "google_cloudfunctions2_function.ocr: service_config: secret_volumes: mount_pth: "
        "google_cloudfunctions2_function.service_config.secret_volumes has no such argument or block "
        "in the provider's schema",
        "google_cloudfunctions2_function.ocr: service_config: secret_volumes: the required argument mount_path "
        "is missing",
    ]
    assert terraform_check.reference_problems(config) == [
        "google_cloudfunctions2_function.ocr: secret_environment_variables.value: no such resource"
    ]


def test_provider_schema_refuses_reading_an_attribute_a_resource_does_not_have(tmp_path, provider_schema):
    broken = broken_copy(
        tmp_path, {"functions.tf": [("google_service_account.invoker.email", "google_service_account.invoker.emial")]}
    )
    assert terraform_check.reference_problems(terraform_check.Config(broken), provider_schema) == [
        "google_cloudfunctions2_function.ocr: google_service_account.invoker.emial: "
        "google_service_account has no attribute emial"
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("${var.a}", [["var", "a"]]),
        ("plain text with resource.type and a.b", []),
        ('x-${join(",", [for k, v in var.m : "${k}=${local.sep}${v}"])}', [["var", "m"], ["local", "sep"]]),
        ('${google_x.y["ocr"].name}-$${not.code}', [["google_x", "y", "[]", "name"]]),
        ('${jsonencode({ a = "resource.labels.x", b = each.value })}', [["each", "value"]]),
        ("${[for r in var.rs : r.name]}", [["var", "rs"], ["r", "name"]]),
        ("${data.google_project.this.number * 2}", [["data", "google_project", "this", "number"]]),
    ],
)
def test_references_are_read_from_code_not_from_string_literals(text, expected):
    assert terraform_check.references(terraform_check.expression_code(text)) == expected


def test_provider_schema_command_line_exits_1_on_problems(tmp_path, provider_schema, capsys):
    assert terraform_check.main([TF_DIR]) == 0
    broken = broken_copy(tmp_path, {"tasks.tf": [("  rate_limits {", "  rate_limit {")]})
    assert terraform_check.main([broken]) == 1
    assert capsys.readouterr().out.splitlines()[-2:] == [
        "google_cloud_tasks_queue.ocr: rate_limit: "
        "google_cloud_tasks_queue has no such argument or block in the provider's schema",
        "1 problem(s)",
    ]
