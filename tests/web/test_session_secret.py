"""The session secret: the same in every worker, from settings, the admin key or a shared file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.settings import load_settings
from web.config import SECRET_ENV, SECRET_FILE, session_secret


def test_secret_comes_from_the_admin_key_and_is_stable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    one = load_settings(admin_key="sk-tm-admin-one-aaaaaaaaaaaaaaaa", spool_dir=tmp_path)
    again = load_settings(admin_key="sk-tm-admin-one-aaaaaaaaaaaaaaaa", spool_dir=tmp_path / "elsewhere")
    other = load_settings(admin_key="sk-tm-admin-two-bbbbbbbbbbbbbbbb", spool_dir=tmp_path)
    assert session_secret(one) == session_secret(again) != session_secret(other)
    assert len(session_secret(one)) == 32 and b"sk-tm" not in session_secret(one)
    assert not (tmp_path / SECRET_FILE).exists()


def test_an_explicit_secret_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(admin_key="sk-tm-admin-one-aaaaaaaaaaaaaaaa", spool_dir=tmp_path)
    derived = session_secret(settings)
    monkeypatch.setenv(SECRET_ENV, "shared by every machine")
    assert session_secret(settings) != derived
    assert session_secret(load_settings(spool_dir=tmp_path / "x")) == session_secret(settings)


def test_without_an_admin_key_the_workers_share_a_private_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    monkeypatch.delenv("TOKENMILL_ADMIN_KEY", raising=False)
    settings = load_settings(spool_dir=tmp_path)
    first = session_secret(settings)
    assert session_secret(load_settings(spool_dir=tmp_path)) == first  # another worker reads the same file
    path = tmp_path / SECRET_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(os.listdir(tmp_path)) == [SECRET_FILE]  # no temporary file left behind
    assert session_secret(load_settings(spool_dir=tmp_path / "other")) != first
    path.write_text("garbage")
    with pytest.raises(RuntimeError, match="no usable session secret"):
        session_secret(settings)
