"""Signed session cookies and the per-session CSRF token.

The cookie holds only ids and the CSRF token, signed (HMAC-SHA256, itsdangerous) and dated,
so any gateway worker can read it; the key it names is checked in the database on every page,
which makes revoking a key end its sessions. Signing out records the session as ended (in the
database, for every worker), so a copy of the cookie made before is refused as well.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from web.config import PREFIX

COOKIE = "tm_admin"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class SessionData:
    csrf: str
    key_id: str | None = None  # None: not signed in yet (the sign-in form still has a CSRF token)

    @classmethod
    def anonymous(cls) -> SessionData:
        return cls(csrf=secrets.token_urlsafe(32))

    @classmethod
    def signed_in(cls, key_id: str) -> SessionData:
        # A fresh token at sign-in: a token planted before sign-in is worthless after it.
        return cls(csrf=secrets.token_urlsafe(32), key_id=key_id)

    @property
    def session_id(self) -> str:
        return session_id_of(self.csrf)

    def csrf_matches(self, submitted: str | None) -> bool:
        return bool(submitted) and hmac.compare_digest(self.csrf.encode(), str(submitted).encode())


def session_id_of(csrf: str) -> str:
    """Names a session (its CSRF token is random per sign-in) without revealing the token."""
    return hashlib.sha256(csrf.encode()).hexdigest()


class SessionCodec:
    def __init__(self, secret: bytes, max_age: int):
        self._serializer = URLSafeTimedSerializer(secret, salt="tokenmill-admin-session")
        self.max_age = max_age

    def read(self, request: Request) -> SessionData | None:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            data = self._serializer.loads(raw, max_age=self.max_age)
        except BadSignature:  # also covers SignatureExpired
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        key_id = data.get("k")
        return SessionData(csrf=data["c"], key_id=key_id if isinstance(key_id, str) else None)

    def write(self, request: Request, response: Response, session: SessionData) -> None:
        response.set_cookie(
            COOKIE,
            self._serializer.dumps({"c": session.csrf, "k": session.key_id}),
            max_age=self.max_age,
            path=PREFIX,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )

    def clear(self, request: Request, response: Response) -> None:
        response.delete_cookie(COOKIE, path=PREFIX, httponly=True, samesite="lax", secure=request.url.scheme == "https")
