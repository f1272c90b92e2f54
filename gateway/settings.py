"""Settings: one YAML file (--config or TOKENMILL_CONFIG) plus TOKENMILL_* environment overrides.

The model list follows LiteLLM proxy's `model_list` (model_name / litellm_params / model_info)
so a config moves over with few edits; Tokenmill adds `tier` and `fallbacks`.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
from collections.abc import Iterable
from contextvars import ContextVar
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from gateway.batches.config import BatchSettings

Tier = Literal["local", "cheap", "strong"]

OWN_ENGINE_PROVIDER = "tokenmill_engine"  # a Tokenmill engine served on its own (`python -m local_engine.server`)
# Providers whose HTTP API is OpenAI's: served by the pooled fast path, bytes passed through.
OPENAI_COMPATIBLE_BASES: dict[str, str | None] = {
    "openai": "https://api.openai.com/v1",
    "hosted_vllm": None,
    "vllm": None,
    "openai_compatible": None,
    OWN_ENGINE_PROVIDER: None,
    "together_ai": "https://api.together.xyz/v1",
    "groq": "https://api.groq.com/openai/v1",
    "deepseek": "https://api.deepseek.com/v1",
    "fireworks_ai": "https://api.fireworks.ai/inference/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "ollama_chat": "http://127.0.0.1:11434/v1",
}
LOCAL_PROVIDER = "local"
LogLevel = Literal["critical", "error", "warning", "info", "debug", "trace"]


class ConfigError(ValueError):
    """The configuration is wrong; the message lists every wrong field, one per line."""


class ConfigProblems(ValueError):
    """Raised by a validator that found several wrong fields: each (location below the validated
    field, message) becomes its own line of the ConfigError."""

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]):
        super().__init__("; ".join(msg for _, msg in problems))
        self.problems = problems


@functools.cache
def litellm_providers() -> frozenset[str]:
    """The providers litellm knows (imported only when a deployment names a provider that is not ours: it is slow)."""
    from gateway.providers.litellm_provider import load_litellm  # here: that module imports this one

    return frozenset(str(getattr(p, "value", p)) for p in load_litellm().provider_list)


def unknown_provider_message(model_name: str, model: str, provider: str) -> str | None:
    """None when `provider` is served (fast path, local engine or litellm); else a line saying how to spell it."""
    if provider in OPENAI_COMPATIBLE_BASES or provider == LOCAL_PROVIDER:
        return None
    known = litellm_providers()
    if provider in known:
        return None
    ours = [*OPENAI_COMPATIBLE_BASES, LOCAL_PROVIDER]
    close = difflib.get_close_matches(provider, list(dict.fromkeys([*ours, *sorted(known)])), n=3)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    return (
        f"{model_name}: unknown provider {provider!r} in {model!r}; {hint}write provider/model with a fast-path provider "
        f"({', '.join(OPENAI_COMPATIBLE_BASES)}), {LOCAL_PROVIDER}, or a provider litellm knows (litellm.provider_list)"
    )


class UpstreamParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="provider/upstream-model, e.g. openai/gpt-4o-mini or local/smollm2")
    api_base: str | None = None
    api_key: str | None = Field(default=None, description="a literal key or os.environ/NAME")
    api_version: str | None = None
    timeout: float = Field(default=600.0, gt=0, description="total seconds for one upstream attempt")
    connect_timeout: float = Field(default=5.0, gt=0)
    first_byte_timeout: float = Field(default=60.0, gt=0, description="seconds to the response's first byte")
    max_retries: int = Field(default=2, ge=0, le=10)
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    extra_headers: dict[str, str] = Field(default_factory=dict)

    @cached_property
    def provider(self) -> str:
        return self.model.split("/", 1)[0] if "/" in self.model else "openai"

    @cached_property
    def upstream_model(self) -> str:
        return self.model.split("/", 1)[1] if "/" in self.model else self.model

    def resolved_api_key(self) -> str | None:
        if self.api_key and self.api_key.startswith("os.environ/"):
            return os.environ.get(self.api_key.removeprefix("os.environ/"))
        return self.api_key


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    tier: Tier = "strong"
    mode: Literal["chat", "embedding", "completion"] = "chat"
    supports_tools: bool = True
    supports_json: bool = True
    supports_vision: bool | None = None  # None: remote deployments take images, Tokenmill's engine does not
    context_window: int | None = Field(default=None, ge=1)
    max_output_tokens: int | None = Field(default=None, ge=1)
    # Price overrides in USD per token (LiteLLM's names); unset = litellm's bundled price map.
    input_cost_per_token: float | None = Field(default=None, ge=0)
    output_cost_per_token: float | None = Field(default=None, ge=0)
    cache_read_input_token_cost: float | None = Field(default=None, ge=0)
    cache_creation_input_token_cost: float | None = Field(default=None, ge=0)
    output_cost_per_reasoning_token: float | None = Field(default=None, ge=0)
    # Local deployments: a price derived from hardware cost, so local work is never free.
    gpu_hourly_usd: float | None = Field(default=None, ge=0)
    tokens_per_second: float | None = Field(default=None, gt=0)
    prompt_cache_key: bool | None = Field(
        default=None, description="send OpenAI's prompt_cache_key; unset = only to OpenAI's own API (no api_base, or an openai.com host)"
    )


class Deployment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_name: str = Field(min_length=1, description="the public name clients ask for")
    litellm_params: UpstreamParams
    model_info: ModelInfo = Field(default_factory=ModelInfo)
    fallbacks: list[str] = Field(default_factory=list, description="public model names tried next")
    deployment_id: str | None = None

    @cached_property
    def id(self) -> str:
        return self.deployment_id or f"{self.model_name}@{self.litellm_params.model}"

    @cached_property
    def provider(self) -> str:
        return self.litellm_params.provider

    @property
    def tier(self) -> Tier:
        return self.model_info.tier

    @property
    def supports_vision(self) -> bool:
        if self.model_info.supports_vision is not None:
            return self.model_info.supports_vision
        return self.provider not in (LOCAL_PROVIDER, OWN_ENGINE_PROVIDER)

    @property
    def is_openai_compatible(self) -> bool:
        return self.provider in OPENAI_COMPATIBLE_BASES

    @property
    def is_local(self) -> bool:
        return self.provider == LOCAL_PROVIDER

    @property
    def takes_prompt_cache_key(self) -> bool:
        """OpenAI's prompt_cache_key goes to OpenAI itself; other OpenAI-style servers may refuse an
        unknown field (Mistral-style 422s), so they get it only where the operator says so."""
        if self.provider != "openai":
            return False
        if self.model_info.prompt_cache_key is not None:
            return self.model_info.prompt_cache_key
        base = self.litellm_params.api_base
        host = (urlsplit(base).hostname or "") if base else "api.openai.com"
        return host == "openai.com" or host.endswith((".openai.com", ".openai.azure.com"))

    @model_validator(mode="after")
    def _known_provider(self) -> Deployment:
        message = unknown_provider_message(self.model_name, self.litellm_params.model, self.provider)
        if message:
            raise ConfigProblems([(("litellm_params", "model"), message)])
        return self

    @model_validator(mode="after")
    def _needs_base(self) -> Deployment:
        if self.is_openai_compatible and not (self.litellm_params.api_base or OPENAI_COMPATIBLE_BASES[self.provider]):
            raise ValueError(f"provider {self.provider!r} needs litellm_params.api_base")
        return self


class LocalEngineSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="false: no chat model is loaded; local chat deployments pass calls to the next one")
    model: str | None = Field(default=None, description="HF folder or GGUF file; unset = bundled SmolLM2")
    device: str = "cpu"
    max_batch_size: int = Field(default=8, ge=1)
    kv_cache_tokens: int = Field(default=32768, ge=256)

    @field_validator("model")
    @classmethod
    def _model_exists(cls, model: str | None) -> str | None:
        if model is not None and not Path(model).expanduser().exists():
            raise ValueError(f"no such model folder or GGUF file: {model}")
        return model


class BillingSettings(BaseModel):
    """Budgets, rate limits and billing jobs (gateway/admission.py, gateway/celery_app.py)."""

    model_config = ConfigDict(extra="forbid")

    redis_namespace: str = Field(default="tokenmill:", min_length=1, description="key prefix of the budget counters and the exact cache in Redis")
    reservation_ttl_seconds: float = Field(default=30.0, gt=0, description="a reservation its process stops renewing expires after this")
    max_request_seconds: float = Field(default=900.0, gt=0, description="reservations are renewed at most this long")
    reap_interval_seconds: float = Field(default=5.0, ge=0, description="in-process reaper of expired reservations; 0 = Celery beat only")
    refresh_seconds: float = Field(default=2.0, gt=0, description="how often budget and rate-limit definitions are re-read")
    rebuild_quiet_seconds: float = Field(default=1.0, ge=0, description="wait before rebuilding lost Redis counters from the ledger")
    prompt_margin: float = Field(default=0.1, ge=0, description="reserve this share more prompt tokens than counted offline")
    prompt_margin_tokens: int = Field(default=16, ge=0)
    default_max_output_tokens: int = Field(default=4096, ge=1, description="output bound when neither request nor model gives one")
    min_clamp_tokens: int = Field(default=16, ge=1, description="clamp mode refuses rather than allow fewer output tokens")
    alert_webhook: str | None = Field(default=None, description="default URL for soft-threshold alerts")
    strong_model: str | None = Field(default=None, description="savings baseline; unset = first strong-tier chat model")
    embedded_worker: bool = Field(default=True, description="run a Celery worker and beat inside the gateway when no Redis is set")
    broker_url: str | None = Field(default=None, description="Celery broker; unset = Redis if set, else SQLite next to the spool")
    rollup_interval_seconds: float = Field(default=300.0, gt=0)
    alert_interval_seconds: float = Field(default=15.0, gt=0)
    reap_schedule_seconds: float = Field(default=15.0, gt=0, description="Celery beat's reaper interval")


class CacheSettings(BaseModel):
    """The response caches. Used for deterministic calls (temperature 0 or a seed), callers that send
    `x-tokenmill-cache: on`, and keys whose cache_mode is `on`."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    ttl_seconds: float = Field(default=3600.0, gt=0)
    exact_max_entries: int = Field(default=10_000, ge=1, description="in-process exact cache (no Redis)")
    exact_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    semantic: bool = True
    semantic_backend: Literal["memory", "pgvector"] = "memory"
    semantic_max_entries: int = Field(default=100_000, ge=1)
    semantic_extra_word: bool = Field(
        default=False,
        description="serve a semantic hit when the new question adds or drops one content word (about half again as many "
        "hits, and wrong ones such as 'a used Tesla' answered as 'a Tesla')",
    )
    pgvector_url: str | None = Field(default=None, description="PostgreSQL with pgvector for the shared semantic index")
    prompt_cache_hints: bool = Field(default=True, description="Anthropic cache_control breakpoints, OpenAI prompt_cache_key")

    @model_validator(mode="after")
    def _pgvector_needs_url(self) -> CacheSettings:
        if self.semantic and self.semantic_backend == "pgvector" and not self.pgvector_url:
            raise ValueError("semantic_backend pgvector needs pgvector_url")
        return self


class RouteSettings(BaseModel):
    """A route such as `auto`: the router picks a tier per call, calibrated to a target."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="auto", pattern=r"^auto(-[a-z0-9_-]+)?$", description="auto or auto-SOMETHING")
    tiers: list[Tier] = Field(default_factory=lambda: ["local", "cheap", "strong"], min_length=1)
    models: list[str] = Field(default_factory=list, description="public model names it may use; empty = every chat model of its tiers")
    strong_share: float | None = Field(default=0.3, ge=0, le=1, description="target share of calls sent to the strong tier")
    quality_floor: float | None = Field(default=None, ge=0, le=1, description="or: keep this share of the strong model's quality")
    local_share: float | None = Field(default=None, ge=0, le=1, description="share of calls the local tier may take (unset: local only by fallback)")
    budget_soft_limit: float = Field(default=0.5, gt=0, le=1, description="below this remaining budget share, calls step down a tier")
    sticky_seconds: float = Field(default=300.0, ge=0, description="an agent run keeps its deployment while its prefix is warm")
    cascade: bool = Field(default=False, description="answer on the local tier first; escalate when its confidence is low")
    cascade_min_logprob: float = Field(default=-1.0, le=0, description="mean token logprob below which a local answer escalates")

    @model_validator(mode="after")
    def _one_target(self) -> RouteSettings:
        if self.quality_floor is not None:
            self.strong_share = None
        return self


class RoutingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    routes: list[RouteSettings] = Field(default_factory=lambda: [RouteSettings()])
    tenant_routes: dict[str, list[RouteSettings]] = Field(default_factory=dict, description="per-tenant routes by tenant name")


def default_model_list() -> list[dict[str, Any]]:
    """The embedded default: the bundled local model, priced as a small share of a CPU's cost."""
    return [
        {
            "model_name": "tokenmill-local",
            "litellm_params": {"model": "local/smollm2-135m-instruct"},
            "model_info": {
                "tier": "local",
                "supports_tools": False,
                "context_window": 8192,
                "max_output_tokens": 2048,
                "input_cost_per_token": 1e-9,
                "output_cost_per_token": 2e-8,
            },
        },
        {
            "model_name": "tokenmill-embed",
            "litellm_params": {"model": "local/all-minilm-l6-v2"},
            "model_info": {"tier": "local", "mode": "embedding", "input_cost_per_token": 1e-10},
        },
    ]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOKENMILL_", env_nested_delimiter="__", extra="forbid")

    database_url: str = "sqlite:///var/tokenmill.db"
    redis_url: str | None = None
    admin_key: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    spool_dir: Path = Path("var/spool")
    key_cache_seconds: float = Field(default=10.0, ge=0)
    usage_flush_interval: float = Field(default=0.25, gt=0, description="seconds between batched ledger writes")
    usage_batch_size: int = Field(default=500, ge=1)
    usage_replay_interval: float = Field(default=5.0, gt=0, description="seconds between spool replays")
    retry_backoff_seconds: float = Field(default=0.25, ge=0)
    log_level: LogLevel = Field(default="info", description="one of critical, error, warning, info, debug, trace")
    model_list: list[Deployment] = Field(default_factory=lambda: [Deployment(**d) for d in default_model_list()])
    local_engine: LocalEngineSettings = Field(default_factory=LocalEngineSettings)
    billing: BillingSettings = Field(default_factory=BillingSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    batches: BatchSettings = Field(default_factory=BatchSettings)
    web_session_secret: SecretStr | None = Field(default=None, description="signs admin UI sessions; set it when gateways share no admin key")

    def check_model_names(self, names: Iterable[str]) -> None:
        """Raise ValueError unless every name is one a call's `model` may give (a model_list name
        or a route, any tenant's): a typo would make a key or budget that matches no call."""
        routes = [*self.routing.routes, *(r for rs in self.routing.tenant_routes.values() for r in rs)]
        unknown = sorted(set(names) - {d.model_name for d in self.model_list} - {r.name for r in routes})
        if unknown:
            raise ValueError(f"unknown model {', '.join(map(repr, unknown))}: not a model_name or route in this configuration")

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level_any_case(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _parseable_database_url(cls, value: str) -> str:
        from sqlalchemy.engine.url import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(value)
        except (ArgumentError, ValueError):
            raise ValueError(
                "cannot parse it as a database URL; expected e.g. sqlite:///var/tokenmill.db or postgresql+psycopg://user@host/db"
            ) from None
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            # Each connection would see its own empty database: the schema, the keys, the ledger lost.
            raise ValueError("an in-memory SQLite database cannot hold the gateway's data; name a file, e.g. sqlite:///var/tokenmill.db")
        return value

    @field_validator("redis_url")
    @classmethod
    def _parseable_redis_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(value)
            _ = parts.port
        except ValueError as exc:
            raise ValueError(f"cannot parse it as a Redis URL ({exc}); expected e.g. redis://127.0.0.1:6379/0") from None
        if parts.scheme not in ("redis", "rediss", "unix") or not (parts.hostname or parts.path):
            raise ValueError("cannot parse it as a Redis URL; expected e.g. redis://127.0.0.1:6379/0 (schemes redis, rediss, unix)")
        return value

    @field_validator("model_list")
    @classmethod
    def _unique_deployment_ids(cls, deployments: list[Deployment]) -> list[Deployment]:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        seen: set[str] = set()
        for i, d in enumerate(deployments):
            if d.id in seen:
                problems.append(((i,), f"two deployments share the id {d.id!r}; set deployment_id on one"))
            seen.add(d.id)
        names = {d.model_name for d in deployments}
        for i, d in enumerate(deployments):
            unknown = [f for f in d.fallbacks if f not in names]
            if unknown:
                problems.append(((i, "fallbacks"), f"{d.model_name}: fallbacks name unknown models {unknown}"))
        if problems:
            raise ConfigProblems(problems)
        return deployments

    @field_validator("routing")
    @classmethod
    def _routes_name_known_models(cls, routing: RoutingSettings, info: ValidationInfo) -> RoutingSettings:
        deployments: list[Deployment] | None = info.data.get("model_list")
        problems: list[tuple[tuple[str | int, ...], str]] = []
        groups: list[tuple[tuple[str | int, ...], list[RouteSettings]]] = [(("routes",), routing.routes)]
        groups += [(("tenant_routes", tenant), routes) for tenant, routes in routing.tenant_routes.items()]
        for where, routes in groups:
            seen: set[str] = set()
            for i, route in enumerate(routes):
                if route.name in seen:
                    problems.append(((*where, i, "name"), f"route {route.name!r} is defined twice"))
                seen.add(route.name)
                if deployments is None:  # model_list is wrong itself; its own lines say why
                    continue
                for name in route.models:
                    matching = [d for d in deployments if d.model_name == name]
                    if not matching:
                        problems.append(((*where, i, "models"), f"route {route.name!r} names {name!r}, which is not a model_name in model_list"))
                    elif not any(d.model_info.mode == "chat" and d.tier in route.tiers for d in matching):
                        problems.append(
                            ((*where, i, "models"), f"route {route.name!r} names {name!r}, which has no chat deployment in the route's tiers {route.tiers}")
                        )
        if problems:
            raise ConfigProblems(problems)
        return routing

    @field_validator("billing")
    @classmethod
    def _strong_model_known(cls, billing: BillingSettings, info: ValidationInfo) -> BillingSettings:
        deployments: list[Deployment] | None = info.data.get("model_list")
        name = billing.strong_model
        if name is not None and deployments is not None and not any(d.model_name == name and d.model_info.mode == "chat" for d in deployments):
            raise ConfigProblems([(("strong_model",), f"{name!r} is not a chat model_name in model_list")])
        return billing

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Command-line flags beat the environment, which beats the file (passed in as init values by load_settings).
        return _FlagSource(settings_cls), env_settings, init_settings


# The command-line flags of the Settings being built (load_settings' `flags`), above every other source.
_FLAGS: ContextVar[dict[str, Any] | None] = ContextVar("tokenmill_flags", default=None)


class _FlagSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return (_FLAGS.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_FLAGS.get() or {})


def _env_variable(loc: tuple[str | int, ...]) -> str | None:
    """The TOKENMILL_* variable that set the value at `loc`, if one did (the environment beats the file)."""
    present = {k.upper(): k for k in os.environ if k.upper().startswith("TOKENMILL_")}
    parts = [str(p).upper() for p in loc]
    for n in range(len(parts), 0, -1):
        name = "TOKENMILL_" + "__".join(parts[:n])
        if name in present:
            return present[name]
    return None


def _format_validation_error(exc: ValidationError, source: str, flags: dict[str, Any] | None = None) -> str:
    lines = [f"invalid configuration ({source}):"]
    for err in exc.errors():
        problems = err.get("ctx", {}).get("error")
        entries = (
            [((*err["loc"], *sub), msg) for sub, msg in problems.problems] if isinstance(problems, ConfigProblems) else [(err["loc"], err["msg"])]
        )
        for loc, msg in entries:
            where = ".".join(str(p) for p in loc) or "(top level)"
            if loc and flags and loc[0] in flags:
                origin = f" (from --{str(loc[0]).replace('_', '-')})"
            else:
                variable = _env_variable(loc) if loc else None
                origin = f" (from {variable})" if variable else ""
            lines.append(f"  - {where}{origin}: {msg}")
    return "\n".join(lines)


def _format_settings_error(exc: SettingsError) -> str:
    """A TOKENMILL_* variable that pydantic-settings could not even parse (a JSON-typed one that is not JSON)."""
    match = re.search(r'field "([^"]+)"', str(exc))
    field = match[1] if match else None
    variable = (_env_variable((field,)) if field else None) or (f"TOKENMILL_{field.upper()}" if field else "a TOKENMILL_* variable")
    cause = exc.__cause__
    what = "not valid JSON" if isinstance(cause, json.JSONDecodeError) else "cannot be parsed"
    detail = f" ({cause})" if cause else ""
    return f"invalid configuration (environment):\n  - {field or '(top level)'} (from {variable}): {what}{detail}"


def ensure_writable_folder(path: Path, name: str) -> None:
    """Create `path` if need be; raise ConfigError unless the gateway can write there."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{name} {path} cannot be a folder: {exc.strerror or exc}") from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"{name} {path} is not writable by this user")


def load_settings(config_file: str | Path | None = None, *, flags: dict[str, Any] | None = None, **overrides: Any) -> Settings:
    """Read the YAML file (if any), apply TOKENMILL_* variables, validate; raise ConfigError.

    Precedence: `flags` (the command line) > TOKENMILL_* environment > the file and `overrides` > defaults.
    """
    path = config_file or os.environ.get("TOKENMILL_CONFIG")
    data: dict[str, Any] = {}
    source = "defaults and environment"
    if path:
        source = str(path)
        try:
            loaded = yaml.safe_load(Path(path).read_text())
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {path}") from exc
        except IsADirectoryError as exc:
            raise ConfigError(f"config file {path} is a folder, not a file") from exc
        except OSError as exc:
            raise ConfigError(f"config file {path} cannot be read: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"config file {path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping at the top level")
        data = loaded or {}
    data.update(overrides)
    token = _FLAGS.set(dict(flags or {}))
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, source, flags)) from exc
    except SettingsError as exc:
        raise ConfigError(_format_settings_error(exc)) from exc
    finally:
        _FLAGS.reset(token)
