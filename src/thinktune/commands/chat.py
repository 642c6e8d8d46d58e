"""`thinktune chat MODEL [-m MESSAGE] [--direct]`: talk to a model, its thinking and its answer shown apart.

    thinktune chat runs/quickstart -m "What is 17 + 25 + 8?"    # one question (a run folder uses final/)
    thinktune chat default                                      # an interactive loop; empty line to quit
"""

from __future__ import annotations

import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("chat", help="chat with a model; prints the thinking and the answer separately")
    p.add_argument("model", help="model spec: default | tiny | a run folder | a model folder | a .gguf | a Hub id | "
                   "a server URL http://HOST:PORT/v1[#model]")
    p.add_argument("-m", "--message", help="ask this one question and exit (default: an interactive loop)")
    p.add_argument("--direct", action="store_true",
                   help="ask for the answer alone (the default for a run trained as a non_reasoning job)")
    p.add_argument("--max-new-tokens", type=int, default=256, help="generation budget per reply (default 256)")
    p.add_argument("--temperature", type=float, default=0.0, help="0 for greedy decoding (default)")
    p.add_argument("--stream", action="store_true", help="print the raw text as it is generated")
    p.set_defaults(func=main)


def resolve_model(spec: str) -> str:
    """A run folder stands for its `final/` model; anything else is a model spec."""
    from thinktune.runs import FINAL

    return str(Path(spec) / FINAL) if (Path(spec) / FINAL).is_dir() else spec


def main(args) -> int:
    from thinktune.chat import chat, format_reply
    from thinktune.models import load_model
    from thinktune.runs import trained_job

    spec = resolve_model(args.model)
    reasoning = not args.direct and trained_job(spec) != "non_reasoning"
    # a running server (`thinktune serve`, vLLM, ...) is asked over HTTP: `http://host:port/v1[#model]`
    pair = spec if spec.startswith(("http://", "https://")) else load_model(spec)
    color = sys.stdout.isatty()
    history: list[dict[str, str]] = []

    def ask(message: str) -> None:
        reply = chat(pair, message, history=history, reasoning=reasoning,
                     max_new_tokens=args.max_new_tokens, temperature=args.temperature, stream=args.stream)
        if args.stream:
            print()
        print(format_reply(reply, color=color))
        # Earlier turns carry the answer only: models are not trained to read back their own thinking.
        answer = reply.answer if reply.answer is not None else ("" if reply.thinking else reply.raw)
        history.extend([{"role": "user", "content": message}, {"role": "assistant", "content": answer}])

    if args.message is not None:
        ask(args.message)
        return 0
    print("type a message (an empty line or Ctrl-D quits)")
    while True:
        try:
            message = input("> ").strip()
        except EOFError:
            print()
            return 0
        if not message or message in ("exit", "quit"):
            return 0
        ask(message)
