"""`thinktune flywheel [CONFIG] [--set k=v]`: one round of continuous fine-tuning; `rollback`, `status`.

    thinktune flywheel configs/flywheel.yaml                  # score → curate → train → gate → promote
    thinktune flywheel status --home runs/flywheel            # the served version and every round
    thinktune flywheel rollback --home runs/flywheel [--to v0]
    thinktune serve registry:runs/flywheel                    # serve the current version under its name
"""

from __future__ import annotations

import json

from thinktune.commands._job import add_config_arguments, job_config, run_from_cli


def register(sub) -> None:
    p = sub.add_parser("flywheel", help="continuous fine-tuning from served traces: a round, status, rollback")
    p.add_argument("action", nargs="?", default="round", choices=("round", "status", "rollback"),
                   help="round (default): run one round; status: the registry; rollback: serve an earlier version")
    add_config_arguments(p)
    p.add_argument("--home", help="the flywheel folder (status, rollback; a round reads it from the config)")
    p.add_argument("--to", help="rollback: the version to serve (default: the one before the last promotion)")
    p.set_defaults(func=main)


def main(args) -> int:
    from thinktune.errors import UserError
    from thinktune.flywheel import gate

    if args.action == "round":
        cfg = job_config("flywheel", args)
        if cfg is None:
            return 0
        code, run = run_from_cli("flywheel", cfg)
        if run.ok:
            print(f"round {run.folder}: {run.metrics.get('decision')} — {run.metrics.get('why')}")
        return code
    home = args.home or "runs/flywheel"
    try:
        reg = gate.rollback(home, args.to) if args.action == "rollback" else gate.load_registry(home)
    except (ValueError, FileNotFoundError) as e:
        raise UserError(str(e)) from None
    if not reg:
        raise UserError(f"{home}: no flywheel registry yet (run a round first)")
    print(f"{reg['name']} -> {reg['current']} ({reg['versions'][reg['current']]['model']})")
    for h in reg["history"]:
        print(json.dumps({k: h.get(k) for k in ("round", "decision", "version", "current", "data_version", "why")}))
    return 0
