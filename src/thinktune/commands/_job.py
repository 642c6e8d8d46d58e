"""What every job command shares, so the same flag means the same thing everywhere:

    thinktune <command> [CONFIG.yaml] [--set key=value ...] [--show-config]

CONFIG is a YAML file mirroring the job's config class; `--set` overrides one key (dotted for sections:
`--set lora.r=8`, `--set options.scorer=format`), its value read as a YAML scalar or flow collection;
`--show-config` prints every key with the value the run would use (file, flags and `--set` applied) and its
help text, then exits. A command's own flags (`eval --limit 20`) are the same keys, applied before `--set`.
"""

from __future__ import annotations

import sys
from typing import Any


def add_config_arguments(p: Any, config_help: str = "YAML config (defaults are used for keys it leaves out)") -> None:
    p.add_argument("config", nargs="?", help=config_help)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, dotted for sections (e.g. --set lora.r=8)")
    p.add_argument("--show-config", action="store_true",
                   help="print every config key with the value the run would use (CONFIG, flags and --set "
                        "applied) and exit")


def job_config(kind: str, args: Any, preset: dict[str, Any] | None = None) -> Any | None:
    """The job's config from the command line; with `--show-config`, print it and return None."""
    from thinktune.config import describe
    from thinktune.jobs import get_job, load_job_config

    cfg = load_job_config(kind, args.config, args.overrides, preset)
    if args.show_config:
        for key, value, help_text in describe(get_job(kind).config_class(), defaults=cfg):
            print(f"{key:32} {value:24} {help_text}")
        return None
    return cfg


def run_from_cli(kind: str, cfg: Any) -> tuple[int, Any]:
    """Run a job with the CLI's progress bars; (exit code, the Run). A cancelled run exits 3."""
    from thinktune.jobs import run_job
    from thinktune.reporter import TqdmReporter

    run = run_job(kind, cfg, TqdmReporter(enabled=getattr(cfg, "progress", True)))
    if run.status == "cancelled":
        print(f"{kind}: cancelled; rerun the same command to resume ({run.folder})", file=sys.stderr)
        return 3, run
    return 0, run
