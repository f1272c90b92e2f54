"""`tokenmill budgets|limits|billing`: the commands an operator types."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from billing import accounts
from billing.accounts import AccountError
from billing.db import create_db_engine, db_session, upgrade_schema
from billing.rollup_models import UsageDaily
from gateway.cli import main
from tests.billing.helpers import add_rows, ledger_row, make_account


@pytest.fixture
def db(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("TOKENMILL_DATABASE_URL", url)
    monkeypatch.delenv("TOKENMILL_CONFIG", raising=False)
    monkeypatch.delenv("TOKENMILL_REDIS_URL", raising=False)
    return url


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_budgets_set_list_delete(db, capsys):
    account = make_account(db, name="acme")
    add_rows(account.engine, ledger_row("r1", account.tenant_id, 250_000_000), ledger_row("r2", account.tenant_id, 5_000_000, run_id="run-1"))
    code, out, _ = run(capsys, "budgets", "set", "--tenant", "acme", "--limit-usd", "1", "--period", "monthly", "--soft", "0.8")
    assert code == 0 and out.startswith("bgt_")
    assert run(capsys, "budgets", "set", "--tenant", "acme", "--run", "run-1", "--limit-tokens", "5000", "--on-exceed", "clamp")[0] == 0
    code, out, _ = run(capsys, "budgets", "list", "--json")
    listed = {(b["run_id"] or "tenant"): b for b in json.loads(out)}
    assert listed["tenant"]["limit_usd"] == "1.000000000" and listed["tenant"]["current"][0]["spent_usd"] == "0.255000000"
    assert listed["tenant"]["current"][0]["reserved_usd"] is None  # in-process counters live in the gateway
    assert listed["run-1"]["limit_tokens"] == 5000 and listed["run-1"]["current"][0]["spent_tokens"] == 15
    code, out, _ = run(capsys, "budgets", "list")
    assert "acme" in out and "$0.255000000" in out
    assert run(capsys, "budgets", "delete", "--tenant", "acme", "--run", "run-1")[0] == 0
    assert len(json.loads(run(capsys, "budgets", "list", "--json")[1])) == 1
    code, _, err = run(capsys, "budgets", "set", "--tenant", "nobody", "--limit-usd", "1")
    assert code == 1 and "no tenant named 'nobody'" in err
    code, _, err = run(capsys, "budgets", "set", "--tenant", "acme", "--limit-usd", "-3")
    assert code == 1 and "negative" in err
    for soft in ("-0.5", "1.5"):
        code, _, err = run(capsys, "budgets", "set", "--tenant", "acme", "--limit-usd", "1", "--soft", soft)
        assert code == 1 and "--soft must be a share of the limit between 0 and 1" in err


def test_rate_limits(db, capsys):
    account = make_account(db, name="acme")
    assert run(capsys, "limits", "set", "--tenant", "acme", "--rpm", "60")[0] == 0
    code, out, _ = run(capsys, "limits", "set", "--tenant", "acme", "--key", account.key_id, "--tpm", "10000")
    assert code == 0
    code, out, _ = run(capsys, "limits", "list", "--tenant", "acme")
    assert account.key_id in out and "10000" in out and "60" in out
    assert run(capsys, "limits", "set", "--tenant", "acme")[0] == 1


def test_billing_export_and_reconcile(db, capsys):
    account = make_account(db, name="acme", timezone="America/New_York")
    now = datetime.now(UTC)
    add_rows(
        account.engine,
        ledger_row("r1", account.tenant_id, 1_500_000, tokens=(100, 50), run_id="run-a", cached_tokens=40, when=now),
        ledger_row("r2", account.tenant_id, 500_000, tokens=(10, 5), run_id="run-a", when=now, model_served="mini-upstream", deployment="mini@openai/mini-upstream"),
        ledger_row("r3", account.tenant_id, 2_000_000, tokens=(80, 20), when=now, saved_nanos=700_000, cache="hit-exact"),
    )
    period = datetime.now(UTC).astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m")
    code, out, _ = run(capsys, "billing", "export", "--tenant", "acme", "--period", period, "--format", "json")
    invoice = json.loads(out)
    assert code == 0 and invoice["total"]["cost_usd"] == "0.004000000" and invoice["total"]["calls"] == 3
    assert invoice["total"]["response_cache_savings_usd"] == "0.000700000"
    assert {line["name"]: line["calls"] for line in invoice["lines_by_run"]} == {"run-a": 2, "(no run)": 1}
    code, out, _ = run(capsys, "billing", "export", "--tenant", "acme", "--period", period)
    rows = list(csv.DictReader(io.StringIO(out.split("\n", 1)[1])))
    assert {r["name"] for r in rows if r["section"] == "model"} == {"metered-upstream", "mini-upstream"}

    assert run(capsys, "billing", "reconcile")[0] == 0
    with account.engine.begin() as conn:  # someone edits a rollup by hand
        conn.execute(sa.update(UsageDaily.__table__).values(cost_nanos=UsageDaily.__table__.c.cost_nanos + 1))
    code, out, _ = run(capsys, "billing", "reconcile")
    assert code == 1 and "cost_nanos: ledger" in out
    assert run(capsys, "billing", "reconcile", "--fix")[0] == 0
    assert run(capsys, "billing", "reconcile")[0] == 0
    assert run(capsys, "billing", "export", "--tenant", "acme", "--period", "2026-99")[0] == 1


def test_the_console_command_is_wired(db):
    env = {**os.environ, "TOKENMILL_DATABASE_URL": db}
    result = subprocess.run([sys.executable, "-m", "gateway.cli", "budgets", "list", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0 and json.loads(result.stdout) == []


@pytest.mark.parametrize("markup", [float("nan"), float("inf"), float("-inf"), -5.0, -1.01, 10.01])
def test_create_tenant_refuses_a_markup_outside_the_admin_api_bounds(db, markup):
    engine = create_db_engine(db)
    upgrade_schema(engine)
    with db_session(engine) as session:
        with pytest.raises(AccountError, match="markup must be a number from -1 to 10"):
            accounts.create_tenant(session, "acme", markup=markup)
        assert accounts.create_tenant(session, "edge-low", markup=-1.0).markup == -1.0
        assert accounts.create_tenant(session, "edge-high", markup=10.0).markup == 10.0
    engine.dispose()


def test_export_into_a_missing_folder_and_periods_the_commands_accept(db, capsys, tmp_path):
    make_account(db, name="acme")
    out = tmp_path / "no" / "such" / "dir" / "inv.csv"
    code, printed, _ = run(capsys, "billing", "export", "--tenant", "acme", "--period", "2026-11", "-o", str(out))
    assert code == 0 and printed.startswith("wrote") and out.read_text().startswith("#")
    for command in ("export", "savings"):
        for period in ("all", "garbage"):
            code, _, err = run(capsys, "billing", command, "--tenant", "acme", "--period", period)
            assert code == 1 and "use YYYY-MM, YYYY-Www or YYYY-MM-DD" in err and "or 'all'" not in err
    code, _, err = run(capsys, "billing", "savings", "--tenant", "acme", "--period", "2026-11")
    assert code == 1 and "strong" in err and "billing.strong_model" in err


@pytest.mark.parametrize("days", ["0", "-5", "1e9", "99999999"])
def test_reconcile_days_must_be_positive_and_sane(db, capsys, days):
    with pytest.raises(SystemExit) as exit_:
        main(["billing", "reconcile", "--days", days])
    assert exit_.value.code == 2 and "--days" in capsys.readouterr().err
