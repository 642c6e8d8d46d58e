"""The gate and the registry: promote a new model only when it beats the old one, and remember every round.

Gate: old and new answer the same held-out questions (greedy); the decision is made on the paired
outcomes. With b = questions only the old model gets right and c = only the new one, the exact one-sided
McNemar test gives p = P(X >= c) for X ~ Binomial(b + c, 1/2). The new model is promoted when its accuracy
gain is at least `margin` and, with `alpha` set, p < alpha; otherwise the old one stays served.

Registry (`HOME/registry.json`): the served name, the version it points at, every version (model folder,
round, metrics) and the history of rounds (data version, model, metrics, decision). `thinktune serve
registry:HOME` serves the current version under the registry's name; `rollback` points it back.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thinktune.evaluation.metrics import mcnemar_one_sided
from thinktune.io import write_json

REGISTRY = "registry.json"


@dataclass(frozen=True)
class Decision:
    promote: bool
    old_accuracy: float
    new_accuracy: float
    gain: float
    only_old: int
    only_new: int
    p_value: float
    n: int
    why: str


def decide(old: Sequence[bool], new: Sequence[bool], margin: float = 0.0, alpha: float | None = 0.05) -> Decision:
    """The gate's decision from per-question correctness of the old and the new model (same questions)."""
    if len(old) != len(new) or not old:
        raise ValueError("the gate needs the same, non-empty list of questions for both models")
    n = len(old)
    only_old = sum(o and not w for o, w in zip(old, new, strict=True))
    only_new = sum(w and not o for o, w in zip(old, new, strict=True))
    acc_old, acc_new = sum(old) / n, sum(new) / n
    gain = acc_new - acc_old
    p = mcnemar_one_sided(only_old, only_new)
    promote = gain >= margin and gain > 0 and (alpha is None or p < alpha)
    why = (f"new {acc_new:.1%} vs old {acc_old:.1%} on {n} held-out questions ({gain:+.1%}; {only_new} right only "
           f"for the new, {only_old} only for the old; one-sided McNemar p = {p:.3g}); "
           + ("promoted" if promote else "kept the old model: " + (
               "the gain is below the margin" if gain < margin or gain <= 0 else f"p >= alpha = {alpha}")))
    return Decision(promote, acc_old, acc_new, gain, only_old, only_new, p, n, why)


# -------------------------------------------------------------------------------------------- registry
def load_registry(home: str | Path) -> dict[str, Any]:
    import json

    path = Path(home) / REGISTRY
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def init_registry(home: str | Path, name: str, model: str) -> dict[str, Any]:
    """A registry whose version 0 is `model` (created once; an existing registry is returned as it is)."""
    reg = load_registry(home)
    if reg:
        return reg
    reg = {"name": name, "current": "v0", "versions": {"v0": {"model": str(model), "round": None,
                                                              "created": time.time()}}, "history": []}
    write_json(Path(home) / REGISTRY, reg)
    return reg


def current_model(home: str | Path) -> str:
    reg = load_registry(home)
    if not reg:
        raise FileNotFoundError(f"{home}: no {REGISTRY}; start with `thinktune flywheel` or init_registry")
    return reg["versions"][reg["current"]]["model"]


def record_round(home: str | Path, entry: dict[str, Any], new_model: str | None, promote: bool) -> dict[str, Any]:
    """Add a round to the history (and its model as a version); point `current` at it when promoted."""
    reg = load_registry(home)
    version = None
    if new_model is not None:
        version = f"v{len(reg['versions'])}"
        reg["versions"][version] = {"model": str(new_model), "round": entry.get("round"), "created": time.time(),
                                    "metrics": entry.get("metrics")}
    previous = reg["current"]
    if promote and version is not None:
        reg["current"] = version
    reg["history"].append({**entry, "version": version, "previous": previous, "current": reg["current"],
                           "decision": "promoted" if promote else "kept", "time": time.time()})
    write_json(Path(home) / REGISTRY, reg)
    return reg


def rollback(home: str | Path, to: str | None = None) -> dict[str, Any]:
    """Point the served name back: at version `to`, else at the version current before the last promotion."""
    reg = load_registry(home)
    if not reg:
        raise FileNotFoundError(f"{home}: no {REGISTRY}")
    if to is None:
        promoted = [h for h in reg["history"] if h.get("decision") == "promoted" and h.get("current") == reg["current"]]
        if not promoted:
            raise ValueError(f"{home}: the current version {reg['current']} was not promoted by a round; "
                             "name the version to roll back to")
        to = promoted[-1]["previous"]
    if to not in reg["versions"]:
        raise ValueError(f"{home}: no version {to!r}; versions: {', '.join(reg['versions'])}")
    reg["history"].append({"decision": "rollback", "previous": reg["current"], "current": to, "time": time.time()})
    reg["current"] = to
    write_json(Path(home) / REGISTRY, reg)
    return reg
