"""Settings of the admin UI and the secret its session cookies are signed with."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PREFIX = "/admin"
SECRET_ENV = "TOKENMILL_WEB_SESSION_SECRET"
SECRET_FILE = "web-session.secret"


@dataclass(frozen=True)
class WebConfig:
    secret: bytes
    session_max_age: int = 8 * 3600  # seconds a sign-in lasts
    page_size: int = 50
    chart_days: int = 30


def session_secret(settings: Any) -> bytes:
    """One secret for every gateway worker, so a cookie signed by one is read by all.

    In order: an explicit secret (setting `web_session_secret` or TOKENMILL_WEB_SESSION_SECRET,
    needed when gateways on several machines share one database without TOKENMILL_ADMIN_KEY);
    one derived from the configured admin key; else a random one kept in a 0600 file in the
    spool folder, which the workers of one machine share.
    """
    explicit = getattr(settings, "web_session_secret", None) or os.environ.get(SECRET_ENV)
    if explicit is not None:
        value = explicit.get_secret_value() if hasattr(explicit, "get_secret_value") else str(explicit)
        return hashlib.sha256(value.encode()).digest()
    admin_key = getattr(settings, "admin_key", None)
    if admin_key is not None:
        return hmac.new(admin_key.get_secret_value().encode(), b"tokenmill admin web session v1", hashlib.sha256).digest()
    return _file_secret(Path(settings.spool_dir) / SECRET_FILE)


def _file_secret(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Written aside, then linked into place: a worker never reads a half-written file,
        # and when two race the first link wins and both read the winner.
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    value = path.read_text().strip()
    try:
        secret = bytes.fromhex(value)
    except ValueError:
        secret = b""
    if len(secret) < 16:
        raise RuntimeError(f"{path} holds no usable session secret; delete it to make a new one")
    return secret
