"""`thinktune serve MODEL... [--host 127.0.0.1] [--port 8000]`: an OpenAI-compatible server.

    thinktune serve runs/compare                      # reasoning, non_reasoning, auto (the hybrid router)
    thinktune serve default fast=runs/x               # NAME=SPEC names a model
    thinktune serve Qwen/Qwen3-8B --upstream http://gpu-box:8000/v1   # vLLM decodes, thinktune adds the rest
    thinktune serve runs/sft --host 0.0.0.0 --api-key "$KEY"          # off loopback a key is required

See `thinktune.serve.app` for the endpoints and the per-request controls.
"""

from __future__ import annotations

import os


def register(sub) -> None:
    p = sub.add_parser("serve", help="serve models over an OpenAI-compatible API, thinking apart from the answer")
    p.add_argument("models", nargs="*", metavar="MODEL", help="model specs, optionally NAME=SPEC; a compare run "
                   "folder serves reasoning, non_reasoning and auto")
    p.add_argument("--model", dest="named", action="append", default=[], metavar="NAME=SPEC",
                   help="another model, named")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; others need --api-key)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--api-key", help="require this Bearer token (default: $THINKTUNE_API_KEY)")
    p.add_argument("--upstream", metavar="URL", help="an OpenAI-compatible server that decodes (vLLM, SGLang, "
                   "llama.cpp, Ollama); MODEL names its models; key from $UPSTREAM_API_KEY")
    p.add_argument("--home", default="runs/serve", help="where traces go (default runs/serve)")
    p.add_argument("--no-traces", action="store_true", help="do not log requests and responses")
    p.add_argument("--max-batch-rows", type=int, default=32, help="rows decoded together at most (default 32)")
    p.add_argument("--max-waiting", type=int, default=64, help="requests waiting at most; more get 429 (default 64)")
    p.add_argument("--max-tokens", type=int, default=4096, help="the largest max_tokens a request may ask")
    p.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32", help="weights")
    p.set_defaults(func=main)


def main(args) -> int:
    from pathlib import Path

    from thinktune.errors import UserError
    from thinktune.serve import LOOPBACK, ServerSettings, create_app, load_served

    items = [*args.models, *args.named]
    if not items:
        raise UserError("name at least one model to serve (e.g. `thinktune serve default` or a compare run folder)")
    key = args.api_key or os.environ.get("THINKTUNE_API_KEY") or None
    if args.host not in LOOPBACK and not key:
        raise UserError(f"--host {args.host}: binding beyond this machine needs an API key "
                        "(--api-key KEY or THINKTUNE_API_KEY)")
    import uvicorn

    models = load_served(items, max_batch_rows=args.max_batch_rows, max_waiting=args.max_waiting, dtype=args.dtype,
                         upstream=args.upstream)
    settings = ServerSettings(api_key=key, home=Path(args.home), traces=not args.no_traces, max_tokens=args.max_tokens)
    print(f"serving {', '.join(models)} on http://{args.host}:{args.port}/v1", flush=True)
    uvicorn.run(create_app(models, settings), host=args.host, port=args.port, log_level="warning")
    return 0
