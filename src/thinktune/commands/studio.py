"""`thinktune studio [--home DIR] [--host 127.0.0.1] [--port 8765] [--workers N]`: the local web app.

    thinktune studio                      # open http://127.0.0.1:8765
    thinktune studio --host 0.0.0.0 --token "$TOKEN"   # off loopback a token is required

Create reasoning or non-reasoning fine-tuning jobs, watch them, compare, and chat with the results; the
same library functions as the CLI run underneath (see `thinktune.studio.app` for the REST API).
"""

from __future__ import annotations

import os


def register(sub) -> None:
    p = sub.add_parser("studio", help="the local web app: datasets, jobs, compare, playground")
    p.add_argument("--home", default="studio", help="the studio's folder: database, uploads, runs (default ./studio)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; others need --token)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.add_argument("--workers", type=int, default=1, help="jobs run at once (default 1 on CPU)")
    p.add_argument("--retries", type=int, default=0, help="queue a failed job again (it resumes) up to N times")
    p.add_argument("--token", help="require this token on API calls (default: $THINKTUNE_TOKEN)")
    p.set_defaults(func=main)


def main(args) -> int:
    from pathlib import Path

    from thinktune.errors import UserError
    from thinktune.serve import LOOPBACK
    from thinktune.studio import StudioSettings, create_studio

    token = args.token or os.environ.get("THINKTUNE_TOKEN") or None
    if args.host not in LOOPBACK and not token:
        raise UserError(f"--host {args.host}: binding beyond this machine needs a token (--token or THINKTUNE_TOKEN)")
    if args.workers < 1:
        raise UserError("--workers must be at least 1")
    import uvicorn

    app = create_studio(StudioSettings(home=Path(args.home), token=token, workers=args.workers,
                                        retries=max(0, args.retries)))
    url = f"http://{args.host}:{args.port}/" + (f"#token={token}" if token else "")
    print(f"thinktune studio on {url}  (home: {Path(args.home).resolve()})", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
