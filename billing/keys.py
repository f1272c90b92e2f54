"""API key secrets: generated once, stored only as a SHA-256 hash plus a visible prefix."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

KEY_PREFIX = "sk-tm-"
ADMIN_KEY_PREFIX = "sk-tm-admin-"
VISIBLE_CHARS = 12


@dataclass(frozen=True)
class NewSecret:
    secret: str  # shown to the user exactly once
    prefix: str
    key_hash: str


def hash_key(secret: str) -> str:
    # Keys are 256-bit random strings, so a plain (unsalted) SHA-256 is not brute-forceable
    # and lets the hot path look a key up by its hash in one indexed query.
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret(admin: bool = False) -> NewSecret:
    secret = (ADMIN_KEY_PREFIX if admin else KEY_PREFIX) + secrets.token_urlsafe(32)
    return NewSecret(secret=secret, prefix=secret[: len(KEY_PREFIX) + VISIBLE_CHARS], key_hash=hash_key(secret))


def new_id(kind: str) -> str:
    return f"{kind}_{secrets.token_hex(8)}"
