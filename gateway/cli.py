"""The `tokenmill` command: serve the gateway, manage tenants and keys, run the engine."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from redis.exceptions import RedisError

from billing.db import db_session
from gateway.cli_billing import database_problem, open_database, positive_days, shown_url, sqlite_file
from gateway.cli_billing import register as register_billing
from gateway.errors import APIError
from gateway.settings import ConfigError, Settings, ensure_writable_folder, load_settings
from routing import eval_cli


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(getattr(args, "config", None))


# -- serve ---------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.app import PREPARED_ENV, create_app
    from gateway.bootstrap import prepare_database

    # Flags > TOKENMILL_* environment > the YAML file > defaults.
    overrides = {k: v for k, v in {"host": args.host, "port": args.port, "workers": args.workers}.items() if v is not None}
    settings = load_settings(args.config, flags=overrides)
    ensure_writable_folder(settings.spool_dir, "spool_dir")  # the ledger's fallback must exist before any call
    engine = open_database(settings)
    admin_key = settings.admin_key.get_secret_value() if settings.admin_key else None
    new_admin_key = prepare_database(engine, admin_key)
    engine.dispose()

    url = f"http://{settings.host}:{settings.port}/v1"
    print(f"Tokenmill gateway: {url}", flush=True)
    print(f"  admin UI:  http://{settings.host}:{settings.port}/admin", flush=True)
    file = sqlite_file(settings.database_url)
    print(f"  database:  {shown_url(settings.database_url)}" + (f" (file {file})" if file else ""), flush=True)
    print(f"  models:    {', '.join(sorted({d.model_name for d in settings.model_list}))}", flush=True)
    if new_admin_key:
        print(f"  admin key (shown once, keep it): {new_admin_key}", flush=True)
    else:
        print("  admin key: already set (TOKENMILL_ADMIN_KEY or an earlier start; lost it? tokenmill keys new-admin)", flush=True)

    common = dict(host=settings.host, port=settings.port, log_level=settings.log_level, access_log=False, timeout_graceful_shutdown=10)
    if settings.workers == 1:
        os.environ[PREPARED_ENV] = "1"
        uvicorn.run(create_app(settings), **common)
        return 0
    # Workers rebuild the settings from the environment, so hand everything over there.
    if args.config:
        os.environ["TOKENMILL_CONFIG"] = str(Path(args.config).resolve())
    for key, value in overrides.items():
        os.environ[f"TOKENMILL_{key.upper()}"] = str(value)
    os.environ[PREPARED_ENV] = "1"
    own_metrics_dir = None
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        own_metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="tokenmill-metrics-")
    try:
        uvicorn.run("gateway.app:app_from_environment", factory=True, workers=settings.workers, **common)
    finally:
        if own_metrics_dir is not None:  # the workers' metric files die with this run
            shutil.rmtree(own_metrics_dir, ignore_errors=True)
    return 0


# -- tenants and keys ----------------------------------------------------------------------


def cmd_tenants_list(args: argparse.Namespace) -> int:
    from billing import accounts

    with db_session(open_database(_settings(args))) as session:
        tenants = accounts.list_tenants(session)
    if args.json:
        print(json.dumps([{"id": t.id, "name": t.name, "timezone": t.timezone, "markup": t.markup} for t in tenants], indent=2))
        return 0
    print(f"{'ID':<22} {'NAME':<30} {'TIMEZONE':<20} MARKUP")
    for t in tenants:
        print(f"{t.id:<22} {t.name:<30} {t.timezone:<20} {t.markup:+.2%}")
    return 0


def cmd_tenants_create(args: argparse.Namespace) -> int:
    from billing import accounts

    with db_session(open_database(_settings(args))) as session:
        tenant = accounts.create_tenant(session, args.name, timezone=args.timezone, markup=args.markup)
    print(tenant.id)
    return 0


def cmd_keys_create(args: argparse.Namespace) -> int:
    from billing import accounts

    expires = datetime.now(UTC) + timedelta(days=args.expires_days) if args.expires_days is not None else None
    models = [m for m in (args.models or "").split(",") if m]
    settings = _settings(args)
    settings.check_model_names(models)
    with db_session(open_database(settings)) as session:
        tenant = accounts.ensure_tenant(session, args.tenant)
        created = accounts.create_key(
            session, tenant, name=args.name, role=args.role, allowed_models=models, expires_at=expires,
            cache_mode=args.cache, semantic_cache=not args.no_semantic_cache,
        )
    print(f"tenant: {tenant.name} ({tenant.id})")
    print(f"key id: {created.key.id}")
    print("the key below is shown once:")
    print(created.secret)
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    from billing import accounts

    with db_session(open_database(_settings(args))) as session:
        tenant_id = None
        if args.tenant:
            tenant = accounts.get_tenant_by_name(session, args.tenant)
            if tenant is None:
                print(f"no tenant named {args.tenant!r}", file=sys.stderr)
                return 1
            tenant_id = tenant.id
        keys = accounts.list_keys(session, tenant_id)
    print(f"{'ID':<22} {'PREFIX':<20} {'ROLE':<13} {'TENANT':<22} STATE")
    for k in keys:
        state = "revoked" if k.revoked_at else "active"
        print(f"{k.id:<22} {k.prefix:<20} {k.role:<13} {k.tenant_id or '-':<22} {state}")
    return 0


def cmd_keys_new_admin(args: argparse.Namespace) -> int:
    """A lost or leaked admin key: whoever can reach the database makes a new one (and may end the others)."""
    from billing import accounts

    with db_session(open_database(_settings(args))) as session:
        others = [k for k in accounts.list_keys(session) if k.role == "admin" and k.revoked_at is None]
        created = accounts.create_key(session, None, name=args.name, role="admin")
        if args.revoke_others:
            for key in others:
                accounts.revoke_key(session, key.id)
    if args.revoke_others:
        print(f"revoked {len(others)} other admin key(s); running gateways refuse them within key_cache_seconds")
    print(f"key id: {created.key.id}")
    print("the admin key below is shown once:")
    print(created.secret)
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    from billing import accounts

    with db_session(open_database(_settings(args))) as session:
        key = accounts.revoke_key(session, args.key_id)
    print(f"revoked {key.id}")
    return 0


# -- engine and routing (their own packages own the work) ----------------------------------


def cmd_engine_serve(args: argparse.Namespace) -> int:
    import torch

    from local_engine.server import run_server

    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda, but this machine's torch sees no CUDA GPU (use --device cpu)", file=sys.stderr)
        return 2
    run_server(model=args.model, device=args.device, host=args.host, port=args.port)
    return 0


def cmd_routing_eval(args: argparse.Namespace) -> int:
    from routing.eval_cli import run

    return run(args)


def cmd_routing_report(args: argparse.Namespace) -> int:
    from gateway.routing_report import as_dicts, format_report, routing_report

    reports = routing_report(open_database(_settings(args)), days=args.days)
    print(json.dumps(as_dicts(reports), indent=2) if args.json else format_report(reports))
    return 0


# -- parser --------------------------------------------------------------------------------


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is outside 1-65535")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tokenmill", description="An OpenAI-compatible gateway for AI-agent workloads.")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(subparsers, name: str, handler: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:  # noqa: ANN001
        p = subparsers.add_parser(name, help=help)
        p.add_argument("--config", help="YAML config file (default: TOKENMILL_CONFIG or the embedded default)")
        p.set_defaults(handler=handler)
        return p

    serve = command(sub, "serve", cmd_serve, "start the gateway")
    serve.add_argument("--host")
    serve.add_argument("--port", type=_port)
    serve.add_argument("--workers", type=int)

    tenants = sub.add_parser("tenants", help="manage tenants").add_subparsers(dest="action", required=True)
    p = command(tenants, "list", cmd_tenants_list, "list tenants")
    p.add_argument("--json", action="store_true")
    p = command(tenants, "create", cmd_tenants_create, "create a tenant")
    p.add_argument("name")
    p.add_argument("--timezone", default="UTC")
    p.add_argument("--markup", type=float, default=0.0)

    keys = sub.add_parser("keys", help="manage API keys").add_subparsers(dest="action", required=True)
    p = command(keys, "create", cmd_keys_create, "create a key (the tenant is created if needed)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--name", default="")
    p.add_argument("--role", default="user", choices=["user", "tenant_admin"])
    p.add_argument("--models", help="comma-separated models the key may use (default: all)")
    p.add_argument("--expires-days", type=positive_days(), help="the key expires after this many days (default: never)")
    p.add_argument("--cache", default="auto", choices=("auto", "on", "off"), help="response cache: auto (deterministic calls), on, off")
    p.add_argument("--no-semantic-cache", action="store_true", help="exact hits only for this key")
    p = command(keys, "list", cmd_keys_list, "list keys")
    p.add_argument("--tenant")
    p = command(keys, "new-admin", cmd_keys_new_admin, "create a global admin key (a lost or leaked one: add --revoke-others)")
    p.add_argument("--name", default="admin (from the command line)")
    p.add_argument("--revoke-others", action="store_true", help="revoke every other admin key")
    p = command(keys, "revoke", cmd_keys_revoke, "revoke a key")
    p.add_argument("key_id")

    engine = sub.add_parser("engine", help="the local engine").add_subparsers(dest="action", required=True)
    p = engine.add_parser("serve", help="serve the local engine over an OpenAI-compatible HTTP API")
    p.set_defaults(handler=cmd_engine_serve)
    p.add_argument("--model", help="HF folder or GGUF file (default: the bundled SmolLM2-135M-Instruct)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_port, default=8001)

    routing = sub.add_parser("routing", help="difficulty routing").add_subparsers(dest="action", required=True)
    p = routing.add_parser("eval", help="score a CSV of prompt,weak,strong with the shipped router")
    p.set_defaults(handler=cmd_routing_eval)
    eval_cli.add_arguments(p)
    p = command(routing, "report", cmd_routing_report, "tier mix, spend and expected quality per tenant")
    p.add_argument("--days", type=positive_days(), default=30.0, help="how many recent days to report (default 30)")
    p.add_argument("--json", action="store_true")

    register_billing(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:  # the database went away mid-command
        print(f"error: database: {database_problem(exc)}", file=sys.stderr)
        return 2
    except RedisError as exc:  # the budget counters' store is down or refuses us
        print(f"error: Redis: {exc}", file=sys.stderr)
        return 2
    except APIError as exc:  # a lookup the admin API would answer with an error (an unknown model, ...)
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except ValueError as exc:  # AccountError and friends: a readable line, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
