"""What a batch line tells the pipeline about itself (`Pipeline.call(..., batch=hint)`).

Routing reads it from `RequestContext.scratch["batch"]`: batch lines are routed like live
traffic, one by one, never stuck to the first line's deployment as an agent run would be.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BatchHint:
    batch_id: str
    custom_id: str
    prefer: str = "throughput"  # latency does not matter: batched generation is welcome
    allow_local: bool = True  # the local engine may take the line when routing allows it
    hold: str = ""  # the budget hold of the line's chunk and model: admission draws on it
