"""deploy/kubernetes validates against Kubernetes' own schemas (strict: no unknown fields)."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from app.settings import load_settings

MANIFESTS = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.30.0"


def documents() -> list[tuple[str, dict]]:
    found = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        loaded = yaml.safe_load_all(path.read_text())
        found += [(f"{path.name}#{i}", doc) for i, doc in enumerate(loaded) if doc]
    return found


@pytest.mark.parametrize(("where", "document"), documents(), ids=[w for w, _ in documents()])
def test_manifest_is_valid_kubernetes(where: str, document: dict):
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_every_kind_the_guide_promises_is_there():
    kinds = {document["kind"] for _, document in documents()}
    assert kinds >= {
        "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap",
        "Secret",
    }  # fmt: skip
    listed = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())["resources"]
    assert all((MANIFESTS / name).is_file() for name in listed)


def test_the_deployment_probes_and_drains_as_the_platform_does():
    deployment = next(d for _, d in documents() if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert "preStop" in container["lifecycle"]
    env = next(d for _, d in documents() if d["metadata"]["name"] == "genai-platform-env")["data"]
    grace = float(env["GENAI_SHUTDOWN_GRACE_SECONDS"])
    assert pod["terminationGracePeriodSeconds"] > grace + 5  # preStop sleep + drain fit


def test_the_configmaps_settings_are_accepted_by_the_platform(tmp_path, monkeypatch):
    config = next(d for _, d in documents() if d["metadata"]["name"] == "genai-platform-config")
    path = tmp_path / "config.yaml"
    path.write_text(config["data"]["config.yaml"])
    env = next(d for _, d in documents() if d["metadata"]["name"] == "genai-platform-env")["data"]
    for name, value in {**env, "GENAI_CONFIG_FILE": str(path)}.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(data_dir=tmp_path)
    assert settings.log_format == "json" and settings.default_model in settings.models
