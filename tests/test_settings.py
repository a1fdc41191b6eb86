"""Settings come from GENAI_* variables over an optional YAML file; bad keys are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli import main
from app.main import create_app
from app.settings import InvalidSettings, load_settings


@pytest.fixture(autouse=True)
def _no_outside_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("GENAI_") or key == "PORT":
            monkeypatch.delenv(key)


def test_defaults_serve_the_embedded_model_on_loopback():
    settings = load_settings()
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.models["local"].provider == "local"
    assert settings.resolved_database_url.startswith("sqlite:///")


def test_environment_variables_override_with_nested_keys(monkeypatch):
    monkeypatch.setenv("GENAI_PORT", "9001")
    monkeypatch.setenv("GENAI_MODELS__LOCAL__PROVIDER", "local")
    monkeypatch.setenv("GENAI_MODELS__VLLM__PROVIDER", "openai-compatible")
    monkeypatch.setenv("GENAI_MODELS__VLLM__MODEL", "qwen")
    monkeypatch.setenv("GENAI_MODELS__VLLM__BASE_URL", "http://127.0.0.1:8001/v1")
    monkeypatch.setenv("GENAI_ROUTE_MODELS__SUMMARIZE", "vllm")
    settings = load_settings()
    assert settings.port == 9001
    assert settings.models["vllm"].primary.base_url == "http://127.0.0.1:8001/v1"
    assert settings.model_for("summarize") == "vllm"
    assert settings.model_for("chat") == "local"


def test_yaml_file_is_read_and_environment_wins(monkeypatch, tmp_path: Path):
    config = tmp_path / "genai.yaml"
    config.write_text(
        "port: 9100\n"
        "max_tokens_limit: 512\n"
        "models:\n"
        "  local: {provider: local}\n"
        "  gpt: {provider: openai, model: gpt-4o-mini}\n"
    )
    monkeypatch.setenv("GENAI_CONFIG_FILE", str(config))
    monkeypatch.setenv("GENAI_PORT", "9200")
    settings = load_settings()
    assert settings.port == 9200
    assert settings.max_tokens_limit == 512
    assert set(settings.models) == {"local", "gpt"}


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"GENAI_PORT": "eighty"}, "GENAI_PORT"),
        ({"GENAI_DEFAULT_MODEL": "gpt-9"}, "default_model"),
        ({"GENAI_MODELS__X__PROVIDER": "openai-compatible"}, "GENAI_MODELS__X"),
        ({"GENAI_MODELS__X__PROVIDER": "watsonx"}, "GENAI_MODELS__X__.*PROVIDER"),
        ({"GENAI_MAX_BODY_BYTES": "10"}, "GENAI_MAX_BODY_BYTES"),
        ({"GENAI_ROUTE_MODELS__CHAT": "nope"}, "route_models.chat"),
        ({"GENAI_HOST": "0.0.0.0", "GENAI_AUTH_ENABLED": "false"}, "auth_enabled"),
        (
            {
                "GENAI_MODELS__LOCAL__PROVIDER": "local",
                "GENAI_MODELS__LOCAL__MODERATION__MODEL": "nope",
            },
            "models.local.moderation.model",
        ),
        (
            {
                "GENAI_MODELS__LOCAL__PROVIDER": "local",
                "GENAI_MODELS__LOCAL__GUARDRAILS__REQUEST__EMAILS": "mask",
            },
            "unknown category 'emails'",
        ),
    ],
)
def test_invalid_settings_name_the_bad_key(monkeypatch, variables, named):
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(InvalidSettings, match=named):
        load_settings()


def test_port_comes_from_genai_port_else_port_as_container_platforms_set_it(monkeypatch):
    monkeypatch.setenv("PORT", "9000")
    assert load_settings().port == 9000
    monkeypatch.setenv("GENAI_PORT", "9100")
    assert load_settings().port == 9100
    assert load_settings(port=9200).port == 9200  # `genai serve --port` wins over both
    monkeypatch.delenv("GENAI_PORT")
    monkeypatch.setenv("PORT", "eighty")
    with pytest.raises(InvalidSettings, match=r"GENAI_PORT \(or PORT\): Input should be"):
        load_settings()


def test_auth_may_be_off_on_loopback_only(monkeypatch):
    monkeypatch.setenv("GENAI_AUTH_ENABLED", "false")
    assert load_settings().auth_enabled is False
    monkeypatch.setenv("GENAI_HOST", "::1")
    assert load_settings().auth_enabled is False


def test_unknown_yaml_key_is_refused(monkeypatch, tmp_path: Path):
    config = tmp_path / "genai.yaml"
    config.write_text("prot: 9100\n")
    monkeypatch.setenv("GENAI_CONFIG_FILE", str(config))
    with pytest.raises(InvalidSettings, match="GENAI_PROT"):
        load_settings()


def test_genai_serve_refuses_to_start_on_bad_settings(monkeypatch, capsys):
    monkeypatch.setenv("GENAI_PORT", "eighty")
    assert main(["serve"]) == 2
    assert "GENAI_PORT" in capsys.readouterr().err


def test_genai_serve_names_a_missing_config_file(capsys, tmp_path: Path):
    assert main(["serve", "--config", str(tmp_path / "absent.yaml")]) == 2
    assert "absent.yaml" in capsys.readouterr().err


async def test_an_unreachable_redis_stops_the_start_naming_the_setting(make_settings):
    app = create_app(make_settings(redis_url="redis://127.0.0.1:9/0"))  # nothing listens on 9
    with pytest.raises(InvalidSettings, match="redis_url: Redis does not answer"):
        async with app.router.lifespan_context(app):
            pass


def test_a_model_alias_fits_the_ledger(monkeypatch):
    monkeypatch.setenv("GENAI_MODELS__" + "X" * 65 + "__PROVIDER", "local")
    with pytest.raises(InvalidSettings, match="an alias has 1 to 64 characters"):
        load_settings()


def test_a_misspelt_variable_is_refused_naming_it(monkeypatch):
    """The environment source ignores variables that name no field: a typo would be silent."""
    monkeypatch.setenv("GENAI_BOOTSTRAP_ADMN", "false")
    with pytest.raises(InvalidSettings, match="GENAI_BOOTSTRAP_ADMN: no such setting"):
        load_settings()
