"""The `tokenmill` console script, run as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from billing.accounts import find_key_by_secret
from billing.db import create_db_engine, db_session
from gateway.cli import main


def run_cli(*args: str, db: str, **env_vars: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TOKENMILL_DATABASE_URL": db, **env_vars}
    env.pop("TOKENMILL_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def db(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("TOKENMILL_DATABASE_URL", url)
    monkeypatch.delenv("TOKENMILL_CONFIG", raising=False)
    return url


FAKE_CONFIG = """
local_engine: {enabled: false}
model_list:
  - model_name: cheap
    litellm_params: {model: openai/cheap, api_base: "http://127.0.0.1:9/v1", api_key: k}
    model_info: {tier: cheap}
"""


def test_keys_create_prints_the_key_last_and_tenants_list(tmp_path):
    db = f"sqlite:///{tmp_path}/cli.db"
    created = run_cli("keys", "create", "--tenant", "acme", "--models", "tokenmill-local,tokenmill-embed", db=db)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    engine = create_db_engine(db)
    with db_session(engine) as session:
        key = find_key_by_secret(session, secret)
        assert key is not None and key.allowed_models == ["tokenmill-local", "tokenmill-embed"]
    engine.dispose()

    listed = run_cli("tenants", "list", "--json", db=db)
    assert [t["name"] for t in json.loads(listed.stdout)] == ["acme"]
    assert "acme" in run_cli("tenants", "list", db=db).stdout
    again = run_cli("keys", "create", "--tenant", "acme", db=db)
    assert again.returncode == 0 and json.loads(run_cli("tenants", "list", "--json", db=db).stdout)[0]["name"] == "acme"


def test_bad_config_is_reported_not_a_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("port: -5\n")
    result = run_cli("tenants", "list", "--config", str(bad), db=f"sqlite:///{tmp_path}/x.db")
    assert result.returncode == 2 and "port" in result.stderr and "Traceback" not in result.stderr


def test_a_lost_admin_key_is_replaced_and_the_old_ones_revoked(tmp_path):
    db = f"sqlite:///{tmp_path}/admin.db"
    first = run_cli("keys", "new-admin", db=db)
    second = run_cli("keys", "new-admin", "--revoke-others", db=db)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "revoked 1 other admin key(s)" in second.stdout
    engine = create_db_engine(db)
    with db_session(engine) as session:
        old = find_key_by_secret(session, first.stdout.strip().splitlines()[-1])
        new = find_key_by_secret(session, second.stdout.strip().splitlines()[-1])
        assert old.revoked_at is not None and new.role == "admin" and new.revoked_at is None and new.tenant_id is None
    engine.dispose()


def test_tenant_markup_outside_the_admin_api_bounds_is_refused(db, capsys):
    for markup in ("-5", "nan", "inf", "10.5"):
        assert main(["tenants", "create", f"t{markup}", "--markup", markup]) == 1
        assert "markup must be a number from -1 to 10" in capsys.readouterr().err
    assert main(["tenants", "create", "ok", "--markup", "0.25"]) == 0
    capsys.readouterr()
    assert main(["tenants", "list", "--json"]) == 0
    assert [t["name"] for t in json.loads(capsys.readouterr().out)] == ["ok"]


@pytest.mark.parametrize(
    "argv",
    [
        ["keys", "create", "--tenant", "acme", "--expires-days", "0"],
        ["keys", "create", "--tenant", "acme", "--expires-days", "-3"],
        ["routing", "report", "--days", "-1"],
        ["routing", "report", "--days", "1e9"],
        ["routing", "report", "--days", "nan"],
    ],
)
def test_day_counts_must_be_positive_and_sane(db, capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and "must be a positive number of days" in capsys.readouterr().err


def test_a_key_with_expires_days_expires(db, capsys):
    assert main(["keys", "create", "--tenant", "acme", "--expires-days", "0.5"]) == 0
    engine = create_db_engine(db)
    with db_session(engine) as session:
        key = find_key_by_secret(session, capsys.readouterr().out.strip().splitlines()[-1])
        assert key.expires_at is not None
    engine.dispose()


@pytest.mark.parametrize(
    "url, message",
    [
        ("not-a-url", "database_url (from TOKENMILL_DATABASE_URL): Value error, cannot parse it"),
        ("mysql://x@y/z", "database_url mysql://x@y/z: its database driver is not installed"),
        (
            "postgresql+psycopg://nobody:secret@127.0.0.1:9/x",
            "database_url postgresql+psycopg://nobody:***@127.0.0.1:9/x: cannot open the database",
        ),
    ],
)
def test_a_database_url_that_cannot_be_used_is_one_line(monkeypatch, capsys, url, message):
    if url.startswith("postgresql"):
        pytest.importorskip("psycopg")
    monkeypatch.setenv("TOKENMILL_DATABASE_URL", url)
    monkeypatch.delenv("TOKENMILL_CONFIG", raising=False)
    assert main(["tenants", "list"]) == 2
    err = capsys.readouterr().err
    assert message in err and "secret" not in err


def test_serve_flags_beat_the_environment(db, tmp_path, monkeypatch, capsys):
    import uvicorn

    from gateway.app import PREPARED_ENV

    config = tmp_path / "c.yaml"
    config.write_text(FAKE_CONFIG + "port: 18000\n")
    variables = {
        "TOKENMILL_PORT": "18133",
        "TOKENMILL_HOST": "0.0.0.0",
        "TOKENMILL_WORKERS": "1",
        "TOKENMILL_CONFIG": str(config),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        PREPARED_ENV: "0",
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)  # serve hands its settings to the workers through these; monkeypatch restores them
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    assert main(["serve", "--config", str(config), "--port", "18132", "--host", "127.0.0.2", "--workers", "2"]) == 0
    assert [(c["host"], c["port"], c["workers"]) for c in calls] == [("127.0.0.2", 18132, 2)]
    out = capsys.readouterr().out
    assert "http://127.0.0.2:18132/v1" in out and f"(file {tmp_path}/cli.db)" in out


def test_a_wrong_log_level_stops_serve_before_the_admin_key(db):
    result = run_cli("serve", db=db, TOKENMILL_LOG_LEVEL="verbose")
    assert result.returncode == 2 and "log_level (from TOKENMILL_LOG_LEVEL)" in result.stderr and "Traceback" not in result.stderr
    assert "admin key" not in result.stdout


def test_a_model_list_variable_that_is_not_json_is_a_config_error(db):
    result = run_cli("tenants", "list", db=db, TOKENMILL_MODEL_LIST="notjson")
    assert result.returncode == 2 and "model_list (from TOKENMILL_MODEL_LIST): not valid JSON" in result.stderr


@pytest.mark.parametrize("yaml_text, message", [
    ("redis_url: notaurl\n", "cannot parse it as a Redis URL"),
    ("database_url: 'sqlite://'\n", "in-memory SQLite database cannot hold"),
    ("billing: {strong_model: gpt-9}\n", "billing.strong_model: 'gpt-9' is not a chat model_name"),
    ("local_engine: {model: /no/such/model.gguf}\n", "no such model folder or GGUF file"),
])
def test_config_values_that_would_fail_later_are_refused_at_once(tmp_path, capsys, yaml_text, message):
    config = tmp_path / "c.yaml"
    config.write_text(yaml_text)
    assert main(["tenants", "list", "--config", str(config)]) == 2
    assert message in capsys.readouterr().err


def test_a_config_path_that_is_no_readable_text_file_is_one_line(tmp_path, capsys):
    assert main(["tenants", "list", "--config", str(tmp_path)]) == 2
    assert "is a folder, not a file" in capsys.readouterr().err
    binary = tmp_path / "c.yaml"
    binary.write_bytes(b"\xff\xfeport: 1\n")
    assert main(["tenants", "list", "--config", str(binary)]) == 2
    assert f"config file {binary} is not UTF-8 text" in capsys.readouterr().err


def test_serve_refuses_what_it_could_not_run_with(db, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    spool = run_cli("serve", db=db, TOKENMILL_SPOOL_DIR=str(blocker / "spool"))
    assert spool.returncode == 2 and "spool_dir" in spool.stderr and "Traceback" not in spool.stderr
    # An admin key from the environment that was revoked since: no "admin key: already set".
    first = run_cli("keys", "new-admin", db=db).stdout.strip().splitlines()[-1]
    assert run_cli("keys", "new-admin", "--revoke-others", db=db).returncode == 0
    revoked = run_cli("serve", db=db, TOKENMILL_ADMIN_KEY=first)
    assert revoked.returncode == 2 and "was revoked" in revoked.stderr and "admin key" not in revoked.stdout


def test_engine_serve_checks_its_port_and_device(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["engine", "serve", "--port", "70000"])
    assert exited.value.code == 2 and "outside 1-65535" in capsys.readouterr().err
    import torch

    if not torch.cuda.is_available():
        assert main(["engine", "serve", "--device", "cuda"]) == 2
        assert "sees no CUDA GPU" in capsys.readouterr().err


def test_model_names_with_a_typo_are_refused(db, capsys):
    assert main(["keys", "create", "--tenant", "acme", "--models", "tokenmill-lcoal"]) == 1
    assert "unknown model 'tokenmill-lcoal'" in capsys.readouterr().err
    assert main(["keys", "create", "--tenant", "acme", "--models", "tokenmill-local,auto"]) == 0
    assert main(["budgets", "set", "--tenant", "acme", "--limit-usd", "1", "--model", "typo"]) == 1
    assert "unknown model 'typo'" in capsys.readouterr().err


def test_commands_that_need_redis_say_so_when_it_is_down(db, capsys):
    assert main(["tenants", "create", "acme"]) == 0
    assert main(["budgets", "set", "--tenant", "acme", "--limit-usd", "5"]) == 0
    os.environ["TOKENMILL_REDIS_URL"] = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    try:
        assert main(["budgets", "list"]) == 2
    finally:
        del os.environ["TOKENMILL_REDIS_URL"]
    assert "error: Redis:" in capsys.readouterr().err


def test_routing_eval_passes_its_options_on(capsys):
    fixture = Path(__file__).parents[1] / "routing" / "fixtures" / "eval_small.csv"
    assert main(["routing", "eval", str(fixture), "--bootstrap", "50", "--weak-column", "weak", "--strong-column", "strong"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("APGR ") and "50 resamples" in out[-2]
    assert main(["routing", "eval", str(fixture), "--weak-column", "mixtral"]) == 2
    assert "missing column(s) mixtral" in capsys.readouterr().err
