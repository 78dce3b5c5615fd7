"""Executing a plan against the store: each flow's or account's actions in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby

from controller.crash import crash_point
from controller.lifecycle.state import Action, Blocked, IllegalTransition, Plan
from controller.store.base import StateStore


@dataclass
class ApplyResult:
    applied: list[Action] = field(default_factory=list)
    refused: list[Blocked] = field(default_factory=list)  # the store said no (a rule the plan missed)


def apply_plan(store: StateStore, plan: Plan, commit: str | None, now: str) -> ApplyResult:
    result = ApplyResult()
    first = True
    for (kind, name), group in groupby(plan.actions, key=lambda a: (a.kind, a.name)):
        actions = list(group)
        if not first:
            crash_point("apply.between-flows")
        first = False
        try:
            store.apply(actions, commit, now)
        except IllegalTransition as exc:
            result.refused.append(Blocked(kind, name, exc.reason, exc.message))
            continue
        result.applied.extend(actions)
    return result
