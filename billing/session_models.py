"""Admin UI sessions ended by signing out, so that a copy of their cookie is refused too."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class EndedAdminSession(SQLModel, table=True):
    __tablename__ = "ended_admin_sessions"

    session_id: str = Field(primary_key=True, max_length=64)  # web.sessions.SessionData.session_id
    # When the cookie would have expired anyway: the row can go after that.
    expires_at: datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False, index=True))
