"""thinktune: turn LLMs into reasoning models, and measure when reasoning pays.

Library layout (each folder one concept):
    format.py      the <think>/<answer> contract: render, parse, prompts, chat templates
    verify.py      answer verifiers shared by rewards and evaluation
    config.py      typed YAML configs
    models/        model specs (default, tiny, folders, GGUF, Hub ids) and the catalog
    data/          dataset readers, validation, snapshots, reasoning / direct views
    tasks/         verifiable task generators (arithmetic, countdown, gsm8k, reasoning-gym)
    rewards/       reward functions for RL
    recipes/       training recipes (sft, grpo)
    inference/     generation engines and inference-time scaling strategies
    evaluation/    the evaluation harness and reports
    compare/       reasoning vs non-reasoning comparison, advice and hybrid routing
"""

__version__ = "0.1.0"
