"""Export a trained model to GGUF (f16, q8_0) and load it back with transformers: same greedy completions?

    python benchmarks/export_roundtrip.py --run runs/compare/variants/reasoning

For each GGUF type: `thinktune export RUN --gguf TYPE` (the package's own writer), then
`AutoModelForCausalLM.from_pretrained(folder, gguf_file=...)`, and greedy completions of the same held-out
questions (the quickstart's prompt format) from the source and the GGUF model, compared token by token.
Prints a table and writes benchmarks/results/export_roundtrip.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", default="runs/compare/variants/reasoning")
    p.add_argument("--questions", type=int, default=12)
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from thinktune.export import export_model
    from thinktune.format import build_messages, render_prompt
    from thinktune.models import load_model
    from thinktune.tasks import load_task

    questions = [ex.question for ex in load_task("arithmetic", split="test", n=args.questions, seed=0, ops=2,
                                                  digits=2, operators="+")]
    source, tok = load_model(args.run, device="cpu")

    def greedy(model, tokenizer) -> list[list[int]]:
        outs = []
        for q in questions:
            ids = tokenizer(render_prompt(tokenizer, build_messages(q, True)), return_tensors="pt",
                            add_special_tokens=False).input_ids
            with torch.no_grad():
                out = model.generate(ids, max_new_tokens=args.max_new_tokens, do_sample=False)
            outs.append(out[0, ids.shape[1]:].tolist())
        return outs

    reference = greedy(source, tok)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("f16", "q8_0"):
            t0 = time.perf_counter()
            folder = Path(tmp) / kind
            export_model(args.run, folder, gguf=[kind], card=True)
            export_s = time.perf_counter() - t0
            name = f"model-{kind}.gguf"
            model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
            tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
            got = greedy(model, tokenizer)
            same = sum(a == b for a, b in zip(reference, got, strict=True))
            prefix = [next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
                      for a, b in zip(reference, got, strict=True)]
            rows.append({"gguf": kind, "size_mb": round((folder / name).stat().st_size / 2**20, 1),
                         "export_s": round(export_s, 1), "identical_completions": same, "questions": len(questions),
                         "mean_matching_prefix_tokens": round(sum(prefix) / len(prefix), 1),
                         "mean_tokens": round(sum(len(r) for r in reference) / len(reference), 1)})
            print(rows[-1], flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "export_roundtrip.json").write_text(json.dumps({"run": args.run, "rows": rows}, indent=2))
    lines = ["# GGUF export round trip", "", f"`python benchmarks/export_roundtrip.py --run {args.run} --questions "
             f"{args.questions} --max-new-tokens {args.max_new_tokens}`: greedy completions of the source model and "
             "of the exported GGUF loaded back with transformers (`gguf_file=`), on held-out quickstart questions.",
             "", "| GGUF | size MB | export s | identical completions | mean matching prefix / mean length (tokens) |",
             "|---|---:|---:|---:|---:|"]
    lines += [f"| {r['gguf']} | {r['size_mb']} | {r['export_s']} | {r['identical_completions']} / {r['questions']} | "
              f"{r['mean_matching_prefix_tokens']} / {r['mean_tokens']} |" for r in rows]
    (out / "export_roundtrip.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
