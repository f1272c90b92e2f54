"""Configuration: a YAML file, TOKENMILL_* overrides, and readable errors for wrong fields."""

from __future__ import annotations

import pytest

from gateway.settings import ConfigError, load_settings

YAML = """
database_url: sqlite:///tmp/x.db
port: 9000
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/TEST_OPENAI_KEY
      rpm: 100
    model_info:
      tier: strong
    fallbacks: [mini]
  - model_name: mini
    litellm_params:
      model: openai/gpt-4o-mini
    model_info:
      tier: cheap
      input_cost_per_token: 0.0000001
"""


def test_yaml_file_with_environment_overrides(tmp_path, monkeypatch):
    path = tmp_path / "tokenmill.yaml"
    path.write_text(YAML)
    monkeypatch.setenv("TOKENMILL_PORT", "9100")
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-from-env")
    settings = load_settings(path)
    assert settings.port == 9100  # the environment wins over the file
    assert settings.database_url == "sqlite:///tmp/x.db"
    strong, cheap = settings.model_list
    assert strong.litellm_params.resolved_api_key() == "sk-from-env" and strong.fallbacks == ["mini"]
    assert cheap.tier == "cheap" and cheap.model_info.input_cost_per_token == 1e-7


def test_no_file_serves_the_embedded_default(monkeypatch):
    monkeypatch.delenv("TOKENMILL_CONFIG", raising=False)
    settings = load_settings()
    assert settings.database_url.startswith("sqlite")
    assert {d.tier for d in settings.model_list} == {"local"}


def test_every_wrong_field_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "port: lots\nmodel_list:\n  - model_name: x\n    litellm_params: {model: openai/x, timeout: -1}\n    model_info: {tier: premium}\n  - model_name: y\n    litellm_params: {model: hosted_vllm/y}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    text = str(err.value)
    assert "port:" in text and "model_list.0.litellm_params.timeout" in text and "model_list.0.model_info.tier" in text
    assert "api_base" in text  # hosted_vllm needs one


@pytest.mark.parametrize(
    "content, message",
    [("model_list: [", "not valid YAML"), ("- just\n- a list\n", "mapping"), ("unknown_setting: 1\n", "unknown_setting")],
)
def test_malformed_files(tmp_path, content, message):
    path = tmp_path / "c.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_settings(path)


def test_fallbacks_must_name_known_models():
    with pytest.raises(ConfigError, match="unknown models"):
        load_settings(model_list=[{"model_name": "a", "litellm_params": {"model": "openai/a"}, "fallbacks": ["zzz"]}])
