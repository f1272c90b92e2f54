"""The model list: public names -> deployments, fallback chains, and what a key may see."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from gateway.errors import model_not_found
from gateway.settings import Deployment


class ModelRegistry:
    def __init__(self, deployments: Iterable[Deployment]):
        self._by_name: dict[str, list[Deployment]] = {}
        for deployment in deployments:
            self._by_name.setdefault(deployment.model_name, []).append(deployment)
        # Several deployments under one name share its traffic in turn.
        self._turns = {name: itertools.cycle(range(len(group))) for name, group in self._by_name.items()}

    @property
    def names(self) -> list[str]:
        return list(self._by_name)

    def all(self) -> list[Deployment]:
        return [d for group in self._by_name.values() for d in group]

    def by_id(self, deployment_id: str) -> Deployment | None:
        return next((d for d in self.all() if d.id == deployment_id), None)

    def has(self, name: str) -> bool:
        return name in self._by_name

    def group(self, name: str) -> list[Deployment]:
        group = self._by_name.get(name)
        if not group:
            raise model_not_found(name)
        return group

    def candidates(self, name: str) -> list[Deployment]:
        """Deployments to try for a public name, in order: its own (rotated), then its fallbacks'."""
        group = self.group(name)
        start = next(self._turns[name])
        chain = group[start:] + group[:start]
        seen_names = {name}
        queue = list(chain[0].fallbacks)
        while queue:
            fallback = queue.pop(0)
            if fallback in seen_names:
                continue
            seen_names.add(fallback)
            fallback_group = self._by_name[fallback]
            chain.extend(fallback_group)
            queue.extend(fallback_group[0].fallbacks)
        return chain

    def by_tier(self, tier: str) -> list[Deployment]:
        return [d for d in self.all() if d.tier == tier and d.model_info.mode == "chat"]
