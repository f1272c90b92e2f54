"""`tokenmill budgets|limits|billing|worker|beat`: budgets, rate limits, invoices, jobs.

`register(subparsers)` adds the commands to the `tokenmill` parser (gateway/cli.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path

from billing.db import create_db_engine, db_session, upgrade_schema
from gateway.settings import ConfigError, Settings, load_settings

MAX_DAYS = 36_500  # a hundred years: bounds every --days and --expires-days


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(getattr(args, "config", None))


def sqlite_file(database_url: str) -> Path | None:
    """The file of a SQLite database_url (absolute), or None for another backend or an in-memory one."""
    from sqlalchemy.engine.url import make_url

    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).resolve()


def shown_url(database_url: str) -> str:
    """database_url with its password hidden, for messages."""
    from sqlalchemy.engine.url import make_url

    return make_url(database_url).render_as_string(hide_password=True)


def open_database(settings: Settings):  # noqa: ANN201 - sqlalchemy Engine
    """Connect and bring the schema up to date; a database that cannot be used is a ConfigError (one line, exit 2)."""
    import sqlalchemy as sa

    shown = shown_url(settings.database_url)
    file = sqlite_file(settings.database_url)
    if file is not None and not file.parent.exists():
        print(f"database: creating the folder {file.parent} for the SQLite file {file}", file=sys.stderr)
    try:
        engine = create_db_engine(settings.database_url)
        upgrade_schema(engine)
    except (ImportError, sa.exc.NoSuchModuleError) as exc:
        raise ConfigError(f"invalid configuration: database_url {shown}: its database driver is not installed ({exc})") from None
    except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.ArgumentError, OSError) as exc:
        raise ConfigError(f"invalid configuration: database_url {shown}: cannot open the database ({database_problem(exc)})") from None
    return engine


def database_problem(exc: BaseException) -> str:
    """The driver's own first line of a database error, without SQLAlchemy's wrapping."""
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def positive_days(kind: Callable[[str], float] = float) -> Callable[[str], float]:
    """An argparse type: a number of days above 0 and at most MAX_DAYS."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number of days") from None
        if not math.isfinite(value) or not 0 < value <= MAX_DAYS:
            raise argparse.ArgumentTypeError(f"must be a positive number of days, at most {MAX_DAYS}, not {text}")
        return value

    parse.__name__ = "days"
    return parse


def _period(label: str) -> str:
    """A bounded period label (YYYY-MM, YYYY-Www, YYYY-MM-DD); refused here with a message that offers only those."""
    from billing.periods import PeriodError, window_from_label

    usage = "use YYYY-MM, YYYY-Www or YYYY-MM-DD (in the tenant's time zone)"
    if label == "all":
        raise ValueError(f"bad period 'all': this command needs a bounded period; {usage}")
    try:
        window_from_label(label, "UTC")
    except PeriodError as exc:
        message = str(exc)
        raise ValueError(f"bad period {label!r}: {usage}" if "'all'" in message else message) from None
    return label


def _tenant(session, name: str):  # noqa: ANN001, ANN202 - Session -> Tenant
    from billing import accounts

    tenant = accounts.get_tenant_by_name(session, name)
    if tenant is None:
        raise ValueError(f"no tenant named {name!r}")
    return tenant


def _store(settings: Settings):  # noqa: ANN202 - RedisStore | None
    """The live counters when they are in Redis; the in-process ones live inside the gateway."""
    if not settings.redis_url:
        return None
    from billing.budgets.redis_store import RedisStore

    return RedisStore.from_url(settings.redis_url, settings.billing.redis_namespace)


def _run_with_store(settings: Settings, work: Callable):  # noqa: ANN202 - work(store) -> awaitable
    async def go():  # noqa: ANN202
        store = _store(settings)
        try:
            return await work(store)
        finally:
            if store is not None:
                await store.close()

    return asyncio.run(go())


# -- budgets -------------------------------------------------------------------------------


def cmd_budgets_set(args: argparse.Namespace) -> int:
    from billing.budgets.definitions import set_budget

    if args.limit_usd is None and args.limit_tokens is None:
        raise ValueError("give --limit-usd, --limit-tokens or both")
    if not 0 <= args.soft <= 1:
        raise ValueError(f"--soft must be a share of the limit between 0 and 1 (0 = no alert), got {args.soft}")
    settings = _settings(args)
    settings.check_model_names([args.model] if args.model is not None else [])
    with db_session(open_database(settings)) as session:
        tenant = _tenant(session, args.tenant)
        budget = set_budget(
            session, tenant_id=tenant.id, key_id=args.key, run_id=args.run, model=args.model, limit_usd=args.limit_usd,
            limit_tokens=args.limit_tokens, period=args.period, soft=None if args.soft <= 0 else args.soft, on_exceed=args.on_exceed,
            alert_webhook=args.webhook,
        )
    print(f"{budget.id}  tenant {tenant.name}  {_scope(budget)}  {_limit(budget)}  {budget.period}  on-exceed {budget.on_exceed}")
    print("running gateways pick the change up within billing.refresh_seconds (2 s by default)")
    return 0


def _scope(b) -> str:  # noqa: ANN001 - Budget or BudgetDef
    parts = [f"key {b.key_id}" if b.key_id else "", ("every run" if b.run_id == "*" else f"run {b.run_id}") if b.run_id else "", f"model {b.model}" if b.model else ""]
    return ", ".join(p for p in parts if p) or "whole tenant"


def _limit(b) -> str:  # noqa: ANN001
    from billing.money import format_usd

    parts = []
    if b.limit_nanos is not None:
        parts.append(f"${format_usd(b.limit_nanos)}")
    if b.limit_tokens is not None:
        parts.append(f"{b.limit_tokens} tokens")
    return " / ".join(parts)


def cmd_budgets_list(args: argparse.Namespace) -> int:
    from billing.budgets.definitions import load_definitions
    from billing.budgets.status import budget_json, budget_status

    settings = _settings(args)
    engine = open_database(settings)
    budgets = load_definitions(engine)
    names: dict[str, str] = {}
    with db_session(engine) as session:
        if args.tenant:
            tenant_id = _tenant(session, args.tenant).id
            budgets = [b for b in budgets if b.tenant_id == tenant_id]
        from billing import accounts

        names = {t.id: t.name for t in accounts.list_tenants(session)}
    status = _run_with_store(settings, lambda store: budget_status(engine, budgets, store))
    rows = [budget_json(b, status[b.id]) | {"tenant": names.get(b.tenant_id, b.tenant_id)} for b in budgets]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'ID':<22} {'TENANT':<16} {'SCOPE':<26} {'PERIOD':<8} {'LIMIT':<26} {'SPENT':<16} RESERVED")
    for b, row in zip(budgets, rows, strict=True):
        current = row["current"] or [{"spent_usd": "0", "reserved_usd": None, "spent_tokens": 0, "run_id": None, "period": "-"}]
        for c in current:
            spent = f"${c['spent_usd']}" if b.limit_nanos is not None else f"{c['spent_tokens']} tok"
            reserved = "-" if c["reserved_usd"] is None else f"${c['reserved_usd']}"
            scope = _scope(b) + (f" [{c['run_id']}]" if c["run_id"] else "")
            print(f"{b.id:<22} {row['tenant'][:16]:<16} {scope[:26]:<26} {b.period:<8} {_limit(b)[:26]:<26} {spent:<16} {reserved}")
    if not settings.redis_url:
        print("(reserved: the in-process counters live inside the gateway; GET /admin/api/budgets shows them)")
    return 0


def cmd_budgets_delete(args: argparse.Namespace) -> int:
    from billing.budgets.definitions import delete_budget, find_budget

    with db_session(open_database(_settings(args))) as session:
        budget_id = args.id
        if budget_id is None:
            if not args.tenant:
                raise ValueError("name the budget with --id, or with --tenant [--key|--run] [--model]")
            found = find_budget(session, _tenant(session, args.tenant).id, args.key, args.run, args.model)
            if found is None:
                raise ValueError("no budget with that scope")
            budget_id = found.id
        delete_budget(session, budget_id)
    print(f"deleted {budget_id}")
    return 0


# -- rate limits ---------------------------------------------------------------------------


def cmd_limits_set(args: argparse.Namespace) -> int:
    from billing.ratelimit.rules import set_rate_limit

    with db_session(open_database(_settings(args))) as session:
        rule = set_rate_limit(session, _tenant(session, args.tenant).id, args.key, args.rpm, args.tpm)
    print(f"{rule.id}  rpm {rule.rpm or '-'}  tpm {rule.tpm or '-'}")
    return 0


def cmd_limits_list(args: argparse.Namespace) -> int:
    from billing.ratelimit.rules import list_rate_limits

    with db_session(open_database(_settings(args))) as session:
        tenant_id = _tenant(session, args.tenant).id if args.tenant else None
        rules = list_rate_limits(session, tenant_id)
    print(f"{'ID':<22} {'TENANT':<22} {'KEY':<22} {'RPM':>8} {'TPM':>10}")
    for r in rules:
        print(f"{r.id:<22} {r.tenant_id:<22} {r.key_id or '-':<22} {r.rpm or '-':>8} {r.tpm or '-':>10}")
    return 0


def cmd_limits_delete(args: argparse.Namespace) -> int:
    from billing.ratelimit.rules import delete_rate_limit

    with db_session(open_database(_settings(args))) as session:
        delete_rate_limit(session, args.id)
    print(f"deleted {args.id}")
    return 0


# -- billing -------------------------------------------------------------------------------


def _prices(settings: Settings) -> dict:
    from billing.prices import PriceBook
    from gateway.pricing import deployment_price

    book = PriceBook()
    return {d.id: deployment_price(d, book) for d in settings.model_list}


def cmd_billing_export(args: argparse.Namespace) -> int:
    from billing import rollups
    from billing.invoices import build_invoice, invoice_csv, invoice_json

    period = _period(args.period)
    settings = _settings(args)
    engine = open_database(settings)
    rollups.rollup(engine)
    with db_session(engine) as session:
        tenant = _tenant(session, args.tenant)
    invoice = build_invoice(engine, tenant, period, _prices(settings))
    text = invoice_csv(invoice) if args.format == "csv" else json.dumps(invoice_json(invoice), indent=2) + "\n"
    if args.output:
        out = Path(args.output)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text)
        except OSError as exc:
            raise ValueError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_billing_savings(args: argparse.Namespace) -> int:
    from billing import rollups
    from billing.savings import savings_report
    from gateway.models import ModelRegistry
    from gateway.routes.admin_billing import strong_baseline

    period = _period(args.period)
    settings = _settings(args)
    engine = open_database(settings)
    rollups.rollup(engine)
    baseline = strong_baseline(ModelRegistry(settings.model_list), _prices(settings), settings.billing.strong_model)
    if baseline is None:
        raise ValueError(
            "no priced strong-tier chat model to compare with: add a chat model with model_info.tier strong and a known price to model_list, "
            "or name one in billing.strong_model"
        )
    with db_session(engine) as session:
        tenant = _tenant(session, args.tenant)
    report = savings_report(engine, tenant, period, *baseline)
    out = report.as_json()
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"{tenant.name} {args.period}: spent ${out['actual_usd']}; all on {baseline[0]} would have cost ${out['baseline_usd']} "
              f"(saved ${out['saved_usd']}, {report.saved_share:.1%})")
    return 0


def cmd_billing_rollup(args: argparse.Namespace) -> int:
    from billing import rollups

    report = rollups.rollup(open_database(_settings(args)))
    print(f"rolled up {report.rows_read} ledger rows into {report.days} tenant-days (ledger row {report.last_row_id})")
    return 0


def cmd_billing_reconcile(args: argparse.Namespace) -> int:
    from billing import rollups
    from billing.budgets.definitions import load_definitions
    from billing.budgets.recovery import check_counters
    from billing.money import format_usd

    settings = _settings(args)
    engine = open_database(settings)
    rollups.rollup(engine)
    check = rollups.check_rollups(engine, args.days, fix=args.fix)
    print(f"rollups: {check.days_checked} tenant-days checked, {len(check.differences)} differences")
    for d in check.differences:
        print(f"  rollup {d.tenant_id or '(none)'} {d.day} {d.field}: ledger {d.ledger}, rollup {d.rollup}")
    budgets = load_definitions(engine)

    async def counters(store):  # noqa: ANN001, ANN202
        if store is None:
            return None
        diffs, checked = await check_counters(store, engine, budgets)
        if diffs and args.fix:
            await store.invalidate()  # the next admission rebuilds every counter from the ledger
        return diffs, checked

    result = _run_with_store(settings, counters)
    if result is None:
        print("counters: in-process (inside the gateway): use POST /admin/api/billing/reconcile")
        counter_diffs = []
    else:
        counter_diffs, checked = result
        print(f"counters: {checked} checked, {len(counter_diffs)} differences")
        for d in counter_diffs:
            print(f"  counter {d.counter_id}: ledger ${format_usd(d.ledger_nanos)} / {d.ledger_tokens} tok, "
                  f"counter ${format_usd(d.counter_nanos)} / {d.counter_tokens} tok")
    if args.fix and (check.differences or counter_diffs):
        print("fixed: rollup days recomputed; counters will be rebuilt from the ledger by the next call")
        return 0
    return 1 if (check.differences or counter_diffs) else 0


# -- Celery --------------------------------------------------------------------------------


def cmd_worker(args: argparse.Namespace) -> int:
    from gateway.celery_app import configure

    app = configure(_settings(args))
    app.worker_main(["worker", f"--loglevel={args.loglevel}", f"--concurrency={args.concurrency}", "--pool=threads" if args.concurrency > 1 else "--pool=solo"])
    return 0


def cmd_beat(args: argparse.Namespace) -> int:
    from gateway.celery_app import configure

    settings = _settings(args)
    app = configure(settings)
    schedule = Path(settings.spool_dir).resolve().parent / "celery-beat-schedule"
    app.start(["beat", f"--loglevel={args.loglevel}", f"--schedule={schedule}"])
    return 0


# -- parser --------------------------------------------------------------------------------


def register(sub: argparse._SubParsersAction) -> None:
    def command(parent: argparse._SubParsersAction, name: str, handler: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        p = parent.add_parser(name, help=help)
        p.add_argument("--config", help="YAML config file (default: TOKENMILL_CONFIG or the embedded default)")
        p.set_defaults(handler=handler)
        return p

    def scope(p: argparse.ArgumentParser, tenant_required: bool) -> None:
        p.add_argument("--tenant", required=tenant_required, help="tenant name")
        which = p.add_mutually_exclusive_group()
        which.add_argument("--key", help="narrow to one API key id")
        which.add_argument("--run", help="narrow to one agent run id ('*' = a wall for every run)")
        p.add_argument("--model", help="narrow to calls that name this model or route (as the client asked: a budget on auto caps that route)")

    budgets = sub.add_parser("budgets", help="spending walls per tenant, key or run").add_subparsers(dest="action", required=True)
    p = command(budgets, "set", cmd_budgets_set, "create or change the budget of a scope")
    scope(p, True)
    p.add_argument("--limit-usd", type=float)
    p.add_argument("--limit-tokens", type=int)
    p.add_argument("--period", default="monthly", choices=["none", "daily", "weekly", "monthly"])
    p.add_argument("--soft", type=float, default=0.8, help="alert once per period at this share of the limit (0 = no alert)")
    p.add_argument("--on-exceed", default="refuse", choices=["refuse", "clamp"], help="refuse the call, or lower its max_tokens")
    p.add_argument("--webhook", help="URL that receives the soft-threshold alert")
    p = command(budgets, "list", cmd_budgets_list, "budgets with their limit, spent and reserved amounts")
    p.add_argument("--tenant")
    p.add_argument("--json", action="store_true")
    p = command(budgets, "delete", cmd_budgets_delete, "delete a budget (by --id or by scope)")
    p.add_argument("--id")
    scope(p, False)

    limits = sub.add_parser("limits", help="requests and tokens per minute per tenant or key").add_subparsers(dest="action", required=True)
    p = command(limits, "set", cmd_limits_set, "set the per-minute limits of a tenant or key")
    p.add_argument("--tenant", required=True)
    p.add_argument("--key")
    p.add_argument("--rpm", type=int)
    p.add_argument("--tpm", type=int)
    p = command(limits, "list", cmd_limits_list, "list rate limits")
    p.add_argument("--tenant")
    p = command(limits, "delete", cmd_limits_delete, "delete a rate limit")
    p.add_argument("id")

    billing = sub.add_parser("billing", help="invoices, savings, rollups, reconciliation").add_subparsers(dest="action", required=True)
    p = command(billing, "export", cmd_billing_export, "a tenant's invoice for a period")
    p.add_argument("--tenant", required=True)
    p.add_argument("--period", required=True, help="YYYY-MM, YYYY-Www or YYYY-MM-DD, in the tenant's time zone")
    p.add_argument("--format", default="csv", choices=["csv", "json"])
    p.add_argument("--output", "-o", help="write to this file instead of stdout")
    p = command(billing, "savings", cmd_billing_savings, "actual cost versus everything on the strong default model")
    p.add_argument("--tenant", required=True)
    p.add_argument("--period", required=True)
    p.add_argument("--json", action="store_true")
    command(billing, "rollup", cmd_billing_rollup, "bring the daily rollups up to date")
    p = command(billing, "reconcile", cmd_billing_reconcile, "check rollups and budget counters against the ledger")
    p.add_argument("--days", type=positive_days(int), default=35, help="how many recent days of rollups to check (1 to 36500)")
    p.add_argument("--fix", action="store_true", help="recompute differing days and rebuild the counters")

    p = command(sub, "worker", cmd_worker, "run a Celery worker (billing jobs, batches)")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--loglevel", default="info")
    p = command(sub, "beat", cmd_beat, "run the Celery beat scheduler")
    p.add_argument("--loglevel", default="info")
