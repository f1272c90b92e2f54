"""POST /v1/feedback: how a call went, for routing to learn from."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, StrictFloat, StrictInt, StrictStr, model_validator

from gateway.deps import PrincipalDep, ServicesDep
from gateway.errors import APIError
from gateway.feedback import FeedbackError, record_feedback

router = APIRouter(prefix="/v1")


class FeedbackIn(BaseModel):
    request_id: StrictStr = Field(min_length=1, max_length=64, description="the x-request-id of the call")
    score: StrictFloat | StrictInt | None = Field(default=None, ge=0, le=1, description="1 = a good answer, 0 = a bad one (true/\"1\" are refused)")
    thumbs: Literal["up", "down"] | None = None
    label: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _one_outcome(self) -> FeedbackIn:
        if (self.score is None) == (self.thumbs is None):
            raise ValueError("give exactly one of score (0..1) or thumbs (up/down)")
        return self

    @property
    def outcome(self) -> float:
        return float(self.score) if self.score is not None else (1.0 if self.thumbs == "up" else 0.0)


@router.post("/feedback")
async def post_feedback(body: FeedbackIn, principal: PrincipalDep, services: ServicesDep) -> dict:
    try:
        row = await asyncio.to_thread(record_feedback, services.db, principal.tenant_id, body.request_id, body.outcome, body.label)
    except FeedbackError as exc:
        raise APIError(404, str(exc), code="request_not_found", param="request_id") from None
    return {"object": "feedback", "request_id": row.request_id, "score": row.score, "label": row.label}
