"""First-start tasks: the schema, and an admin key (from the environment, or new and shown once)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from billing import accounts
from billing.db import db_session, upgrade_schema
from gateway.settings import ConfigError


def ensure_admin_key(engine: Engine, configured: str | None) -> str | None:
    """Register TOKENMILL_ADMIN_KEY if given; else create one when none exists.

    Returns a secret to print only when it was just generated (the one and only time it is seen).
    """
    with db_session(engine) as session:
        if configured:
            found = accounts.find_key_by_secret(session, configured)
            if found is None:
                accounts.create_key(session, None, name="admin (from environment)", role="admin", secret=configured)
            elif found.revoked_at is not None or found.role != "admin":
                # Starting "with" it would print that an admin key is set while no call could use it.
                why = "was revoked" if found.revoked_at is not None else f"is a {found.role} key, not an admin key"
                raise ConfigError(f"TOKENMILL_ADMIN_KEY (admin_key) holds a key that {why}; unset it or set it to an active admin key")
            return None
        if accounts.has_admin_key(session):
            return None
        return accounts.create_key(session, None, name="bootstrap admin", role="admin").secret


def prepare_database(engine: Engine, configured_admin_key: str | None) -> str | None:
    upgrade_schema(engine)
    return ensure_admin_key(engine, configured_admin_key)
