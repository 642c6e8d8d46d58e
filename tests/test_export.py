"""`thinktune export`: GGUF round trips (f16 exact up to float16 rounding, q8_0 exact up to the Q8_0 blocks),
the tokenizer and chat template carried inside the GGUF, the Ollama Modelfile's template (rendered here by a
small Go-template interpreter and compared with the model's own chat template), and the model card.

Loading a GGUF back with transformers takes ~10 s on 2 busy cores (it parses the 49K-token vocabulary), so
each file is loaded once per module."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from thinktune import cli
from thinktune.errors import UserError
from thinktune.format import DIRECT_SYSTEM_PROMPT, REASONING_SYSTEM_PROMPT
from thinktune.runs import Run

PROMPT = "What is 2 + 3? Think step by step, then answer."
TEXTS = [
    PROMPT,
    "  leading spaces, 1234567 digits, 3.14159 and -42\n\ttabs\n\nnew lines  ",
    "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n",
    "<think>\n1 + 2 = 3\n</think>\n<answer>\n3\n</answer>",
    "unicode: héllo wörld, 日本語, emoji 🙂, ∑ x² ≤ ∞",
]


# ------------------------------------------------------------------------------------------- fixtures
def load_gguf(path: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    return model.eval(), tokenizer


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    """The tiny random Llama saved as a plain model folder (no run manifest, no job type)."""
    from thinktune.models import tiny_model

    model, tokenizer = tiny_model(seed=0)
    folder = tmp_path_factory.mktemp("tiny") / "tiny"
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def exported(tiny_folder):
    """`thinktune export tiny --gguf f16 --gguf q8_0 --ollama --card --hf`: both GGUFs, loaded back."""
    out = tiny_folder.parent / "exported"
    args = ["export", str(tiny_folder), "--out", str(out), "--gguf", "f16", "--gguf", "q8_0", "--ollama", "--card",
            "--hf"]
    assert cli.main(args) == 0
    return out, {q: load_gguf(out / f"model-{q}.gguf") for q in ("f16", "q8_0")}


@pytest.fixture(scope="module")
def source(tiny_folder):
    from thinktune.models import load_model

    return load_model(str(tiny_folder), device="cpu")


def greedy(model, ids, n=8):
    with torch.no_grad():
        return model.generate(ids, max_new_tokens=n, do_sample=False)[0, ids.shape[1]:].tolist()


def logits(model, ids):
    with torch.no_grad():
        return model(ids).logits[0]


# ----------------------------------------------------------------------------------------- round trip
def test_f16_round_trip_is_the_source_model_in_float16(exported, source):
    (_, models), (model, tokenizer) = exported, source
    gguf_model, _ = models["f16"]
    assert gguf_model.config.tie_word_embeddings and gguf_model.config.num_key_value_heads == 2
    # every weight is the source weight rounded to float16: names, shapes and the q/k row permutation
    # (llama.cpp's rotary layout, undone by transformers on load) all line up
    mine, theirs = model.state_dict(), gguf_model.state_dict()
    assert mine.keys() == theirs.keys()
    for name, w in mine.items():
        assert torch.equal(w.half().float(), theirs[name]), name
    ids = tokenizer(PROMPT, return_tensors="pt").input_ids
    a, b = logits(model, ids), logits(gguf_model, ids)
    assert (a - b).abs().max() < 1e-2 * a.abs().max()
    assert torch.equal(a.argmax(-1), b.argmax(-1))  # the same next token at every position
    assert greedy(gguf_model, ids) == greedy(model, ids)


def test_q8_0_round_trip_is_the_source_model_in_q8_0_blocks(exported, source):
    import gguf

    (_, models), (model, tokenizer) = exported, source
    gguf_model, _ = models["q8_0"]
    q8 = gguf.GGMLQuantizationType.Q8_0
    theirs = gguf_model.state_dict()
    for name, w in model.state_dict().items():
        x = w.float().numpy()
        # matrices: exactly what gguf's reference Q8_0 quantizer gives (blocks of 32 int8 with a float16
        # scale max|block|/127, so within one such step of the source); vectors (norms) in float32, exactly
        expected = gguf.quants.dequantize(gguf.quants.quantize(x, q8), q8) if x.ndim == 2 else x
        assert np.array_equal(expected, theirs[name].numpy()), name
        assert np.abs(x - theirs[name].numpy()).max() <= np.abs(x).max() / 127
    ids = tokenizer(PROMPT, return_tensors="pt").input_ids
    a, b = logits(model, ids), logits(gguf_model, ids)
    # 8-bit weights move the logits by about 1% of their range on this model (0.7% measured); the top-1
    # token agrees at every position of this prompt and the greedy completion is the same
    assert (a - b).abs().max() < 0.03 * a.abs().max()
    assert (a.argmax(-1) == b.argmax(-1)).float().mean() >= 0.9
    assert greedy(gguf_model, ids) == greedy(model, ids)


def test_tokenizer_and_chat_template_round_trip(exported, source):
    (_, models), (_, tokenizer) = exported, source
    for qtype in ("f16", "q8_0"):
        _, tok = models[qtype]
        for text in TEXTS:
            assert tok(text).input_ids == tokenizer(text).input_ids, (qtype, text)
            assert tok.decode(tok(text).input_ids) == tokenizer.decode(tokenizer(text).input_ids)
        assert tok.chat_template == tokenizer.chat_template
        assert (tok.bos_token, tok.eos_token, tok.pad_token, tok.unk_token) == \
            (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token, tokenizer.unk_token)
        assert len(tok) == len(tokenizer)
        chat = [{"role": "system", "content": REASONING_SYSTEM_PROMPT}, {"role": "user", "content": PROMPT}]
        assert tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True) == \
            tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)


def test_gguf_metadata_follows_llama_cpp(exported):
    import gguf

    out, _ = exported
    for qtype, file_type in (("f16", gguf.LlamaFileType.MOSTLY_F16), ("q8_0", gguf.LlamaFileType.MOSTLY_Q8_0)):
        reader = gguf.GGUFReader(out / f"model-{qtype}.gguf")
        field = {k: f.contents() for k, f in reader.fields.items() if k not in (
            "tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type")}
        assert field["general.architecture"] == "llama" and field["general.file_type"] == file_type
        assert field["tokenizer.ggml.model"] == "gpt2" and field["tokenizer.ggml.pre"] == "gpt-2"
        assert field["llama.rope.dimension_count"] == 16 and field["llama.attention.head_count_kv"] == 2
        assert (field["tokenizer.ggml.bos_token_id"], field["tokenizer.ggml.eos_token_id"]) == (1, 2)
        assert field["tokenizer.ggml.add_bos_token"] is False
        types = reader.fields["tokenizer.ggml.token_type"].contents()
        assert types[:17] == [3] * 17 and set(types[17:]) == {1}  # SmolLM2's 17 special tokens are CONTROL
        tensors = {t.name: t.tensor_type.name for t in reader.tensors}
        assert "output.weight" not in tensors  # tied to token_embd, as llama.cpp writes it
        matrix = "F16" if qtype == "f16" else "Q8_0"
        assert tensors["token_embd.weight"] == tensors["blk.1.attn_q.weight"] == matrix
        assert tensors["blk.0.attn_norm.weight"] == tensors["output_norm.weight"] == "F32"


# ----------------------------------------------------------------------------------- a LoRA SFT run
@pytest.fixture(scope="module")
def sft_run(tmp_path_factory):
    """A 1-step LoRA SFT run (reasoning job) with the tags as single tokens, exported with everything."""
    from thinktune.recipes.config import LoraSettings
    from thinktune.recipes.sft import SFTJobConfig, run

    root = tmp_path_factory.mktemp("sft")
    cfg = SFTJobConfig(model="tiny", data="builtin:arith_sample", limit=8, val_fraction=0.0, max_steps=1,
                       batch_size=2, learning_rate=1e-2, warmup_ratio=0.0, lr_scheduler="constant", max_length=160,
                       save_steps=0, output_dir=str(root / "run"), lora=LoraSettings(r=4, alpha=8),
                       add_reasoning_tokens=True)
    folder = run(cfg).folder
    out = root / "exported"
    assert cli.main(["export", str(folder), "--gguf", "f16", "--ollama", "--card", "--out", str(out)]) == 0
    return folder, out


def test_lora_run_exports_merged_gguf_with_the_tags_as_tokens(sft_run):
    from thinktune.models import load_model

    folder, out = sft_run
    assert sorted(p.name for p in out.iterdir()) == ["Modelfile", "README.md", "model-f16.gguf"]  # no HF copy
    adapter, tokenizer = load_model(str(folder / "final"), device="cpu")
    gguf_model, tok = load_gguf(out / "model-f16.gguf")
    assert len(tok) == len(tokenizer) == gguf_model.get_input_embeddings().weight.shape[0]
    for tag in ("<think>", "</think>", "<answer>", "</answer>"):
        assert tok.encode(tag, add_special_tokens=False) == tokenizer.encode(tag, add_special_tokens=False)
        assert len(tok.encode(tag, add_special_tokens=False)) == 1
    for text in TEXTS:
        assert tok(text).input_ids == tokenizer(text).input_ids
    ids = tokenizer(PROMPT, return_tensors="pt").input_ids
    a, b = logits(adapter, ids), logits(gguf_model, ids)  # the adapter, merged and rounded to float16
    assert (a - b).abs().max() < 1e-2 * a.abs().max()
    assert torch.equal(a.argmax(-1), b.argmax(-1))
    assert greedy(gguf_model, ids) == greedy(adapter, ids)


def test_modelfile_of_a_reasoning_run(sft_run):
    _, out = sft_run
    text = (out / "Modelfile").read_text()
    assert "FROM ./model-f16.gguf\n" in text
    assert f'SYSTEM """{REASONING_SYSTEM_PROMPT}"""' in text
    assert 'PARAMETER stop "<|im_end|>"' in text and "</answer>" not in text.split("SYSTEM")[0]
    template = re.search(r'TEMPLATE """(.*?)"""', text, re.S).group(1)
    assert infer_thinking_tags(parse(template)) == ("<think>", "</think>")  # Ollama: a thinking model


def test_model_card_of_a_run(sft_run):
    folder, out = sft_run
    card = (out / "README.md").read_text()
    run = Run.load(folder)
    assert "| job type | reasoning:" in card
    assert "| base model | `tiny` |" in card
    assert f"snapshot `{run.metrics['snapshot']}`" in card and "`builtin:arith_sample`" in card
    assert f"| train_rows | {run.metrics['train_rows']} |" in card
    assert re.search(r"Last logged training step: step 1, loss [\d.]+", card)
    assert f"| `{folder}` | sft | succeeded | `tiny` |" in card  # the lineage
    assert "| `model-f16.gguf` | GGUF, f16 |" in card and "ollama create run -f Modelfile" in card
    assert REASONING_SYSTEM_PROMPT in card


def test_plain_folder_card_and_modelfile(exported):
    out, _ = exported
    card = (out / "README.md").read_text()
    assert "No thinktune run manifest" in card and "| job type | unknown |" in card
    assert "| base model | unknown |" in card
    assert (out / "hf" / "config.json").is_file()  # --hf: the transformers folder beside the GGUFs
    assert not (out / "config.json").exists() and "`hf/` | transformers model folder" in card
    text = (out / "Modelfile").read_text()
    assert "SYSTEM" not in text and "FROM ./model-f16.gguf" in text
    template = re.search(r'TEMPLATE """(.*?)"""', text, re.S).group(1)
    assert ".Thinking" not in template  # no job type: not declared a thinking model


# --------------------------------------------------------------------------------- other architectures
def test_qwen2_round_trip(tmp_path, tokenizer):
    """Qwen2: q/k/v biases, no q/k permutation (built on the SmolLM2 tokenizer: no Qwen files offline)."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from thinktune.export import write_gguf

    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         tie_word_embeddings=False, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".bias"):
                p.normal_(0, 0.5)  # biases start at zero: make them count
    model.save_pretrained(str(tmp_path / "qwen"))
    tokenizer.save_pretrained(str(tmp_path / "qwen"))
    write_gguf(tmp_path / "qwen", tmp_path / "model-f16.gguf", "f16")
    gguf_model, _ = load_gguf(tmp_path / "model-f16.gguf")
    assert gguf_model.config.model_type == "qwen2" and not gguf_model.config.tie_word_embeddings
    theirs = gguf_model.state_dict()
    for name, w in model.state_dict().items():
        expected = w if w.ndim == 1 else w.half().float()  # vectors (norms, biases) are stored in float32
        assert torch.equal(expected, theirs[name]), name
    ids = tokenizer(PROMPT, return_tensors="pt").input_ids
    assert greedy(gguf_model, ids) == greedy(model, ids)


def test_llama3_rope_scaling_becomes_rope_freqs(tmp_path, tokenizer):
    """Llama 3.x's rope scaling: transformers' scaled frequencies == llama.cpp's base frequencies / rope_freqs."""
    import gguf
    from transformers import LlamaConfig, LlamaForCausalLM

    from thinktune.export import write_gguf

    rope = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=256, intermediate_size=128, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, rope_parameters=rope)
    model = LlamaForCausalLM(config)
    model.save_pretrained(str(tmp_path / "l3"))
    tokenizer.save_pretrained(str(tmp_path / "l3"))
    write_gguf(tmp_path / "l3", tmp_path / "l3.gguf", "f16")
    reader = gguf.GGUFReader(tmp_path / "l3.gguf")
    factors = next(t for t in reader.tensors if t.name == "rope_freqs.weight").data
    dim = 128
    base = 1.0 / (500000.0 ** (np.arange(0, dim, 2) / dim))
    scaled = model.model.rotary_emb.inv_freq.numpy()
    assert np.allclose(base / factors, scaled, rtol=1e-5)
    assert factors.min() == 1.0 and factors.max() == 32.0  # high frequencies kept, low ones divided


def test_pre_tokenizer_names():
    from thinktune.export import LLAMA3_SPLIT, QWEN2_SPLIT, pre_tokenizer_name

    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True}
    split = {"type": "ByteLevel", "add_prefix_space": False, "use_regex": False}

    def seq(*parts):
        return {"pre_tokenizer": {"type": "Sequence", "pretokenizers": list(parts)}}

    assert pre_tokenizer_name({"pre_tokenizer": byte_level}) == "gpt-2"
    assert pre_tokenizer_name(seq({"type": "Digits", "individual_digits": True}, byte_level)) == "smollm"
    assert pre_tokenizer_name(seq({"type": "Split", "pattern": {"Regex": QWEN2_SPLIT}}, split)) == "qwen2"
    assert pre_tokenizer_name(seq({"type": "Split", "pattern": {"Regex": LLAMA3_SPLIT}}, split)) == "llama-bpe"
    with pytest.raises(UserError, match="no known llama.cpp equivalent"):
        pre_tokenizer_name(seq({"type": "Split", "pattern": {"Regex": r"\w+"}}, split))


# ------------------------------------------------------------------------------------------ the CLI
def test_cli_refuses_what_it_cannot_do(tmp_path, tiny_folder, capsys, monkeypatch):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    (tmp_path / "a_file").write_text("x")
    for out in ("full", "a_file"):  # never overwrites; a file is not a folder: one-line errors, exit 2
        assert cli.main(["export", str(tiny_folder), "--gguf", "f16", "--out", str(tmp_path / out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "not empty" in err[0] and "is a file" in err[1]
    with pytest.raises(SystemExit):
        cli.main(["export", str(tiny_folder), "--gguf", "q4_0", "--out", str(tmp_path / "q4")])
    monkeypatch.setenv("THINKTUNE_LLAMA_CPP_CONVERT", str(tmp_path / "nowhere.py"))
    assert cli.main(["export", str(tiny_folder), "--gguf", "f16", "--converter", "llama.cpp",
                     "--out", str(tmp_path / "lc")]) == 2
    assert "convert_hf_to_gguf.py was not found" in capsys.readouterr().err
    assert not (tmp_path / "lc").exists() and not list(tmp_path.glob(".lc*"))  # nothing half-written left


def test_ollama_refuses_a_template_that_is_not_chatml(tmp_path, tiny_folder, capsys):
    import shutil

    folder = tmp_path / "llama3ish"
    shutil.copytree(tiny_folder, folder)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["chat_template"] = "{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n" \
                              "{{ m['content'] }}<|eot_id|>{% endfor %}"
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    (folder / "chat_template.jinja").unlink(missing_ok=True)
    assert cli.main(["export", str(folder), "--ollama", "--out", str(tmp_path / "o")]) == 2
    assert "not ChatML" in capsys.readouterr().err


def test_llama_cpp_converter_is_called_when_asked(tmp_path, tiny_folder, monkeypatch):
    script = tmp_path / "convert_hf_to_gguf.py"
    script.write_text("import json, sys\nargs = sys.argv[1:]\n"
                      "open(args[args.index('--outfile') + 1], 'w').write(json.dumps(args))\n")
    monkeypatch.setenv("THINKTUNE_LLAMA_CPP_CONVERT", str(script))
    assert cli.main(["export", str(tiny_folder), "--gguf", "q8_0", "--converter", "llama.cpp", "--ollama",
                     "--job", "non_reasoning", "--out", str(tmp_path / "o")]) == 0
    args = json.loads((tmp_path / "o" / "model-q8_0.gguf").read_text())
    assert args == [str(tiny_folder), "--outfile", args[2], "--outtype", "q8_0"]
    # --job names the job type of a folder that records none: its system prompt, no thinking
    text = (tmp_path / "o" / "Modelfile").read_text()
    assert f'SYSTEM """{DIRECT_SYSTEM_PROMPT}"""' in text and ".Thinking" not in text
    assert "FROM ./model-q8_0.gguf" in text


# ---------------------------------------------------------------------- the Modelfile's Go template
def test_template_renders_chats_as_the_model_was_trained(tokenizer):
    from thinktune.export import is_chatml, ollama_template

    assert is_chatml(tokenizer)
    reasoning, direct = parse(ollama_template(True)), parse(ollama_template(False))
    thinking, answer = "2 + 3 = 5", "<answer>\n5\n</answer>"
    cases = [
        (reasoning, REASONING_SYSTEM_PROMPT, [("user", "What is 2 + 3?", None)]),
        (reasoning, REASONING_SYSTEM_PROMPT, [("user", "What is 2 + 3?", None), ("assistant", answer, thinking),
                                              ("user", "And 3 + 4?", None)]),
        (direct, DIRECT_SYSTEM_PROMPT, [("user", "What is 2 + 3?", None), ("assistant", answer, None),
                                        ("user", "And 3 + 4?", None)]),
    ]
    for tree, system, turns in cases:
        hf = [{"role": "system", "content": system}]
        hf += [{"role": r, "content": c if not t else f"<think>\n{t}\n</think>\n{c}"} for r, c, t in turns]
        expected = tokenizer.apply_chat_template(hf, tokenize=False, add_generation_prompt=True)
        assert render(tree, ollama_values(system, turns)) == expected


def test_template_is_well_formed_go_and_uses_only_ollama_variables():
    from thinktune.export import ollama_template

    for reasoning in (True, False):
        text = ollama_template(reasoning)
        actions = re.findall(r"\{\{(.*?)\}\}", text, re.S)
        assert text.count("{{") == text.count("}}") == len(actions)
        depth = 0
        for body in actions:
            word = body.strip("- \n").split(" ")[0]
            if word in ("if", "range", "with"):
                depth += 1
            elif word == "end":
                depth -= 1
            assert depth >= 0, "an {{ end }} without its block"
        assert depth == 0, "a block without its {{ end }}"
        assert parse(text)  # and the interpreter's parser agrees: every block closed where it should be
        fields = set(re.findall(r"(?<![\w$])\.([A-Z]\w*)", text)) | set(re.findall(r"\$\.([A-Z]\w*)", text))
        assert fields <= OLLAMA_TOP | OLLAMA_MESSAGE, fields - OLLAMA_TOP - OLLAMA_MESSAGE
        tags = infer_thinking_tags(parse(text))
        assert tags == (("<think>", "</think>") if reasoning else ("", ""))


def test_prefilled_think_opens_the_generation_prompt():
    from thinktune.export import ollama_template

    out = render(parse(ollama_template(True, prefill_think=True)), ollama_values("S", [("user", "Q", None)]))
    assert out.endswith("<|im_start|>assistant\n<think>\n")


# ------------------------------------------- a small interpreter for the Go templates Ollama runs
# Enough of Go's text/template for chat templates: text, {{- -}} trimming, fields (.A, $.A, $x, $x.A),
# string and number literals, (sub expressions), if / else if / else / range / end, `$x :=` and the
# builtins eq ne and or not len slice. Every field must exist (Ollama's message fields are Go struct
# fields, which fail when missing), so a misspelt variable fails the render.
OLLAMA_TOP = {"System", "Messages", "Tools", "Response", "Think", "IsThinkSet", "Prompt", "Suffix", "Query",
              "Document", "Instruction"}
OLLAMA_MESSAGE = {"Role", "Content", "Thinking", "Images", "ToolCalls", "ToolName"}


def ollama_values(system, turns):
    """What Ollama passes a `.Messages` template (server/template.go): the system messages joined in
    `.System` and kept in `.Messages`, each message an api.Message."""
    messages = [{"Role": "system", "Content": system, "Thinking": "", "Images": None, "ToolCalls": None,
                 "ToolName": ""}]
    for role, content, thinking in turns:
        messages.append({"Role": role, "Content": content, "Thinking": thinking or "", "Images": None,
                         "ToolCalls": None, "ToolName": ""})
    return {"System": system, "Messages": messages, "Tools": None, "Response": "", "Think": True,
            "IsThinkSet": False, "Query": "", "Document": "", "Instruction": ""}


def lex(text):
    parts, pos = [], 0
    for m in re.finditer(r"\{\{(- )?(.*?)( -)?\}\}", text, re.S):
        parts.append(["text", text[pos:m.start()]])
        if m.group(1) and parts[-1][0] == "text":
            parts[-1][1] = parts[-1][1].rstrip()
        parts.append(["action", m.group(2).strip(), bool(m.group(3))])
        pos = m.end()
    parts.append(["text", text[pos:]])
    for i, part in enumerate(parts):  # a -}} trims the whitespace after it
        if part[0] == "action" and part[2]:
            parts[i + 1][1] = parts[i + 1][1].lstrip()
    return [p for p in parts if p[0] == "action" or p[1]]


def parse(text):
    tree, rest = _parse_list(lex(text), 0)
    assert rest == len(lex(text)), "unbalanced {{ end }}"
    return tree


def _parse_list(parts, i, stop=()):
    nodes = []
    while i < len(parts):
        kind, body = parts[i][0], parts[i][1]
        word = body.split(" ")[0] if kind == "action" else None
        if word in ("end", "else"):
            assert word in stop, f"unexpected {{{{ {body} }}}}"
            return nodes, i
        if word in ("if", "range"):
            node, i = _parse_block(parts, i, word, body[len(word):].strip())
            nodes.append(node)
            continue
        nodes.append(("text", body) if kind == "text" else ("action", body))
        i += 1
    assert not stop, "missing {{ end }}"
    return nodes, i


def _parse_block(parts, i, word, head):
    body, i = _parse_list(parts, i + 1, ("end", "else"))
    other = []
    action = parts[i][1]
    if action.startswith("else if "):  # `else if X` is an if inside the else branch, sharing its end
        node, i = _parse_block(parts, i, "if", action[len("else if "):])
        return (word, head, body, [node]), i
    if action == "else":
        other, i = _parse_list(parts, i + 1, ("end",))
    return (word, head, body, other), i + 1


def render(tree, values):
    out = []
    _run(tree, values, {"$": values}, out)
    return "".join(out)


def _run(nodes, dot, scope, out):
    for node in nodes:
        if node[0] == "text":
            out.append(node[1])
        elif node[0] == "action":
            m = re.fullmatch(r"(\$\w+) := (.*)", node[1], re.S)
            if m:
                scope[m.group(1)] = _eval(m.group(2), dot, scope)
            else:
                out.append(_str(_eval(node[1], dot, scope)))
        elif node[0] == "if":
            _run(node[2] if _truth(_eval(node[1], dot, scope)) else node[3], dot, scope, out)
        elif node[0] == "range":
            m = re.fullmatch(r"(\$\w+), (\$\w+) := (.*)", node[1], re.S)
            items = _eval(m.group(3), dot, scope) or []
            for index, item in enumerate(items):
                inner = {**scope, m.group(1): index, m.group(2): item}
                _run(node[2], item, inner, out)
            if not items:
                _run(node[3], dot, scope, out)


def _tokens(expr):
    return re.findall(r'"(?:[^"\\]|\\.)*"|\(|\)|[^\s()]+', expr)


def _eval(expr, dot, scope):
    value, rest = _command(_tokens(expr), 0, dot, scope)
    assert rest == len(_tokens(expr)), expr
    return value


FUNCS = {
    "eq": lambda a, *b: any(a == x for x in b), "ne": lambda a, b: a != b, "not": lambda a: not _truth(a),
    "and": lambda *a: next((x for x in a if not _truth(x)), a[-1]),
    "or": lambda *a: next((x for x in a if _truth(x)), a[-1]),
    "len": len, "slice": lambda x, i=0, j=None: x[i:j],
}


def _command(tokens, i, dot, scope):
    args = []
    while i < len(tokens) and tokens[i] != ")":
        if tokens[i] == "(":
            value, i = _command(tokens, i + 1, dot, scope)
            assert tokens[i] == ")"
            args.append(("value", value))
        else:
            args.append(("token", tokens[i]))
        i += 1
    if args and args[0][0] == "token" and args[0][1] in FUNCS:
        return FUNCS[args[0][1]](*[_operand(a, dot, scope) for a in args[1:]]), i
    assert len(args) == 1, f"not a function: {args}"
    return _operand(args[0], dot, scope), i


def _operand(arg, dot, scope):
    kind, token = arg
    if kind == "value":
        return token
    if token.startswith('"'):
        return json.loads(token)
    if re.fullmatch(r"-?\d+", token):
        return int(token)
    if token == ".":
        return dot
    head, *path = token.split(".")
    value = dot if head == "" else scope[head]
    for name in path:
        value = value[name]  # KeyError: a field Ollama does not provide
    return value


def _truth(value):
    return bool(value)


def _str(value):
    return "" if value is None else str(value)


def infer_thinking_tags(tree):
    """Ollama's `thinking.InferTags`: for a `.Thinking` inside a `range` over `.Messages`, the first and last
    text of the nearest enclosing list, trimmed; ("", "") when there is none (not a thinking model)."""
    found = ["", ""]

    def uses(expr, name):
        return re.search(rf"(?<![\w$])\.{name}\b", expr) is not None

    def visit(nodes, in_messages):
        for node in nodes:
            exprs = [node[1]] if node[0] in ("action", "if") else []
            if in_messages and any(uses(e, "Thinking") for e in exprs):
                if nodes[0][0] == "text":
                    found[0] = nodes[0][1].strip()
                if nodes[-1][0] == "text":
                    found[1] = nodes[-1][1].strip()
            if node[0] in ("if", "range"):  # the nearest range must be the one over .Messages
                inner = uses(node[1], "Messages") if node[0] == "range" else in_messages
                visit(node[2], inner)
                visit(node[3], inner)

    visit(tree, False)
    return tuple(found)
