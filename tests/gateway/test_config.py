"""Configuration: a YAML file, TOKENMILL_* overrides, and readable errors for wrong fields."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

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


def test_unknown_provider_names_the_deployment_and_the_spelling():
    with pytest.raises(ConfigError) as err:
        load_settings(model_list=[{"model_name": "mini", "litellm_params": {"model": "opneai/gpt-4o-mini"}}])
    lines = str(err.value).splitlines()
    assert len(lines) == 2 and lines[1].startswith("  - model_list.0.litellm_params.model: mini: unknown provider 'opneai'")
    assert "did you mean 'openai'" in lines[1] and "vllm" in lines[1] and "local" in lines[1] and "litellm" in lines[1]
    known = [
        {"model_name": "claude", "litellm_params": {"model": "anthropic/claude-sonnet-4-5"}},  # litellm's
        {"model_name": "v", "litellm_params": {"model": "vllm/m", "api_base": "http://h/v1"}},  # ours, fast path
        {"model_name": "l", "litellm_params": {"model": "local/smollm2-135m-instruct"}},
    ]
    assert [d.provider for d in load_settings(model_list=known).model_list] == ["anthropic", "vllm", "local"]


def test_log_level_is_one_of_the_standard_names(monkeypatch):
    assert load_settings(log_level="DEBUG").log_level == "debug"
    monkeypatch.setenv("TOKENMILL_LOG_LEVEL", "verbose")
    with pytest.raises(ConfigError, match=r"log_level \(from TOKENMILL_LOG_LEVEL\): Input should be 'critical'"):
        load_settings()


def test_routes_name_known_models_and_distinct_names():
    models = [
        {"model_name": "cheap", "litellm_params": {"model": "openai/c"}, "model_info": {"tier": "cheap"}},
        {"model_name": "strong", "litellm_params": {"model": "openai/s"}, "model_info": {"tier": "strong"}},
    ]
    routing = {
        "routes": [
            {"name": "auto-coding", "tiers": ["cheap", "strong"], "models": ["cheap", "strong-typo"]},
            {"name": "auto"},
            {"name": "auto", "strong_share": 0.9},
            {"name": "auto-cheap", "tiers": ["cheap"], "models": ["strong"]},  # named, but outside the route's tiers
        ],
        "tenant_routes": {"acme": [{"name": "auto", "models": ["gpt-4o-mini"]}]},
    }
    with pytest.raises(ConfigError) as err:
        load_settings(model_list=models, routing=routing)
    lines = str(err.value).splitlines()[1:]
    assert len(lines) == 4
    assert lines[0].startswith("  - routing.routes.0.models: route 'auto-coding' names 'strong-typo'")
    assert lines[1] == "  - routing.routes.2.name: route 'auto' is defined twice"
    assert lines[2].startswith("  - routing.routes.3.models: route 'auto-cheap' names 'strong'") and "tiers" in lines[2]
    assert lines[3].startswith("  - routing.tenant_routes.acme.0.models: route 'auto' names 'gpt-4o-mini'")
    routing = {
        "routes": [{"name": "auto", "models": ["cheap", "strong"]}],
        "tenant_routes": {"acme": [{"name": "auto", "models": ["cheap"]}]},
    }
    assert load_settings(model_list=models, routing=routing).routing.routes[0].models == ["cheap", "strong"]


def test_flags_beat_the_environment_which_beats_the_file(tmp_path, monkeypatch):
    path = tmp_path / "tokenmill.yaml"
    path.write_text("port: 9000\nhost: 0.0.0.0\nworkers: 3\n")
    monkeypatch.setenv("TOKENMILL_PORT", "9100")
    monkeypatch.setenv("TOKENMILL_WORKERS", "1")
    settings = load_settings(path, flags={"port": 9200, "workers": 4})
    assert (settings.port, settings.workers, settings.host) == (9200, 4, "0.0.0.0")
    assert load_settings(path).port == 9100
    with pytest.raises(ConfigError, match=r"port \(from --port\): Input should be less than or equal to 65535"):
        load_settings(path, flags={"port": 70000})
    monkeypatch.setenv("TOKENMILL_PORT", "abc")
    with pytest.raises(ConfigError, match=r"port \(from TOKENMILL_PORT\)"):
        load_settings(path)


def test_a_json_variable_that_is_not_json_is_a_config_error(monkeypatch):
    monkeypatch.setenv("TOKENMILL_MODEL_LIST", "notjson")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value).splitlines() == [
        "invalid configuration (environment):",
        "  - model_list (from TOKENMILL_MODEL_LIST): not valid JSON (Expecting value: line 1 column 1 (char 0))",
    ]


def test_database_url_must_parse():
    with pytest.raises(ConfigError, match="database_url: .*cannot parse it as a database URL"):
        load_settings(database_url="not-a-url")


def test_model_list_problems_are_each_named():
    with pytest.raises(ConfigError) as err:
        load_settings(
            model_list=[
                {"model_name": "a", "litellm_params": {"model": "openai/a"}, "fallbacks": ["zzz"]},
                {"model_name": "b", "litellm_params": {"model": "openai/b"}, "fallbacks": ["yyy"]},
            ]
        )
    assert [line.split(":")[0] for line in str(err.value).splitlines()[1:]] == ["  - model_list.0.fallbacks", "  - model_list.1.fallbacks"]


def test_the_readme_configuration_examples_validate():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    config, routing = (yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", readme, re.S)[:2])
    settings = load_settings(**config)
    assert settings.billing.strong_model in {d.model_name for d in settings.model_list if d.tier == "strong"}
    load_settings(**config, **routing)  # the routing example names models of the configuration example


def test_the_semantic_cache_serves_an_extra_word_only_when_the_operator_opts_in(monkeypatch):
    from gateway.cache_layer import CacheLayer

    monkeypatch.delenv("TOKENMILL_CONFIG", raising=False)
    strict = CacheLayer.from_settings(load_settings()).cache.semantic.params
    monkeypatch.setenv("TOKENMILL_CACHE__SEMANTIC_EXTRA_WORD", "true")
    opted_in = CacheLayer.from_settings(load_settings()).cache.semantic.params
    assert strict.unaligned_threshold is None and opted_in.unaligned_threshold is not None


@pytest.mark.parametrize(
    ("model", "api_base", "flag", "sent"),
    [
        ("openai/gpt-4o", None, None, True),
        ("openai/gpt-4o", "https://api.openai.com/v1", None, True),
        ("openai/gpt-4o", "https://my-resource.openai.azure.com", None, True),
        ("openai/llama-3", "http://127.0.0.1:8000/v1", None, False),
        ("openai/llama-3", "http://127.0.0.1:8000/v1", True, True),
        ("openai/gpt-4o", None, False, False),
        ("anthropic/claude-sonnet-4-5", None, True, False),
    ],
)
def test_prompt_cache_key_goes_to_openai_itself_or_where_the_operator_says(model, api_base, flag, sent) -> None:  # noqa: ANN001
    from gateway.settings import Deployment

    info = {} if flag is None else {"prompt_cache_key": flag}
    deployment = Deployment(model_name="m", litellm_params={"model": model, "api_base": api_base}, model_info=info)
    assert deployment.takes_prompt_cache_key is sent
