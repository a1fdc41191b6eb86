"""The scale-to-zero deployment files: the CloudFormation and SAM templates validate offline
(cfn-lint, with AWS's resource schemas), and every file configures a platform that starts:
its GENAI_ variables are real settings, secrets come from the platform's secret store, and
the port the platform listens on (PORT) is the one its probes and ingress use.

Cloud Run's and Container Apps' YAML have no schema available offline; the checks on their
settings and ports are what can be verified here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.api import ManualArgs, lint, lint_file

from app.providers import uses_llama_cpp
from app.settings import load_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CLOUDFORMATION = [DEPLOY / "aws-lambda" / "template.yaml", DEPLOY / "app-runner" / "service.yaml"]

#: What a secret holds in production, for the settings check (never in the files).
SECRET_VALUES = {
    "GENAI_DATABASE_URL": "postgresql+psycopg://genai@db.internal/genai",
    "GENAI_REDIS_URL": "redis://cache.internal:6379/0",
    "GENAI_SECRET_KEY": "s" * 32,
    "GENAI_MODELS__GPT__API_KEY": "sk-placeholder",
}


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub...), read as plain values."""


_CloudFormationLoader.add_multi_constructor(
    "!",
    lambda loader, suffix, node: (
        loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else None
    ),
)


def _load(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CloudFormationLoader)


def _cloud_run() -> tuple[dict[str, str], list[str]]:
    container = _load(DEPLOY / "cloud-run" / "service.yaml")["spec"]["template"]["spec"][
        "containers"
    ][0]
    env = {item["name"]: item.get("value") for item in container["env"]}
    ports = [container["ports"][0]["containerPort"]]
    ports += [container[probe]["httpGet"]["port"] for probe in ("startupProbe", "livenessProbe")]
    env.setdefault("PORT", str(ports[0]))  # Cloud Run sets PORT to the container port
    return env, [str(port) for port in ports]


def _container_apps() -> tuple[dict[str, str], list[str]]:
    app = _load(DEPLOY / "container-apps" / "containerapp.yaml")["properties"]
    container = app["template"]["containers"][0]
    env = {item["name"]: item.get("value") for item in container["env"]}
    ports = [app["configuration"]["ingress"]["targetPort"]]
    ports += [probe["httpGet"]["port"] for probe in container["probes"]]
    return env, [str(port) for port in ports]


def _app_runner() -> tuple[dict[str, str], list[str]]:
    image = _load(DEPLOY / "app-runner" / "service.yaml")["Resources"]["Service"]["Properties"][
        "SourceConfiguration"
    ]["ImageRepository"]["ImageConfiguration"]
    env = {item["Name"]: item["Value"] for item in image["RuntimeEnvironmentVariables"]}
    env |= {item["Name"]: None for item in image["RuntimeEnvironmentSecrets"]}
    env["PORT"] = image["Port"]  # App Runner sets PORT to the configured port
    return env, [image["Port"]]


def _lambda() -> tuple[dict[str, str], list[str]]:
    template = _load(DEPLOY / "aws-lambda" / "template.yaml")
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    # A dynamic reference is resolved from Secrets Manager when the stack deploys.
    env = {
        key: None if "{{resolve:secretsmanager:" in value else value
        for key, value in variables.items()
    }
    return env, []


DEPLOYMENTS = {
    "cloud-run": _cloud_run,
    "container-apps": _container_apps,
    "app-runner": _app_runner,
    "aws-lambda": _lambda,
}


@pytest.mark.parametrize("path", CLOUDFORMATION, ids=lambda path: path.parent.name)
def test_the_template_validates_against_aws_schemas(path: Path):
    problems = lint_file(path, config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    assert [str(problem) for problem in problems] == []


def test_the_validation_catches_a_wrong_property():
    broken = (
        (DEPLOY / "app-runner" / "service.yaml")
        .read_text()
        .replace("MaxConcurrency", "MaxConcurency")
    )
    assert lint(broken, config=ManualArgs(regions=["us-east-1"]))


@pytest.mark.parametrize("name", DEPLOYMENTS)
def test_the_deployment_configures_a_platform_that_starts(name: str, monkeypatch, tmp_path):
    env, ports = DEPLOYMENTS[name]()
    secrets = [key for key, value in env.items() if value is None]
    assert set(secrets) == set(SECRET_VALUES), "secrets come from the platform's secret store"
    for key in [key for key in os.environ if key.startswith("GENAI_")]:
        monkeypatch.delenv(key)
    monkeypatch.delenv("PORT", raising=False)
    for key, value in {**env, **SECRET_VALUES}.items():
        monkeypatch.setenv(key, str(value))
    monkeypatch.setenv("GENAI_DATA_DIR", str(tmp_path))
    settings = load_settings()  # unknown or invalid GENAI_ keys fail here, naming the key
    assert not settings.bootstrap_admin, "no local disk: the first admin key comes from the CLI"
    assert not any(uses_llama_cpp(spec.deployments) for spec in settings.models.values())
    assert {str(settings.port)} | set(ports) == {str(settings.port)}, "one port everywhere"
