"""The `tokenmill` console script, run as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from billing.accounts import find_key_by_secret
from billing.db import create_db_engine, db_session


def run_cli(*args: str, db: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TOKENMILL_DATABASE_URL": db}
    env.pop("TOKENMILL_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], capture_output=True, text=True, env=env, timeout=120)


def test_keys_create_prints_the_key_last_and_tenants_list(tmp_path):
    db = f"sqlite:///{tmp_path}/cli.db"
    created = run_cli("keys", "create", "--tenant", "acme", "--models", "gpt-4o,gpt-4o-mini", db=db)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    engine = create_db_engine(db)
    with db_session(engine) as session:
        key = find_key_by_secret(session, secret)
        assert key is not None and key.allowed_models == ["gpt-4o", "gpt-4o-mini"]
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
