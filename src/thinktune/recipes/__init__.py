"""Training recipes. Each is one readable function that goes top to bottom and leaves the heavy lifting to
TRL / PEFT / transformers: `sft.py` (reasoning and non-reasoning SFT), `grpo.py` (R1-Zero-style RL)."""
