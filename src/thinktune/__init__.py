"""thinktune: turn LLMs into reasoning models, and measure when reasoning pays.

Library layout (each folder one concept):
    format.py      the <think>/<answer> contract: render, parse, prompts, chat templates
    verify.py      answer verifiers shared by rewards and evaluation
    config.py      typed YAML configs
    errors.py      the errors a user can fix
    jobs/          the job registry: every long run is a typed config + run(config, reporter) -> Run
    runs.py        the run folder: manifest, metrics, events, lock, checkpoints, final model, lineage
    reporter.py    progress, events and cooperative cancellation
    training.py    what the trainers share (arguments, metrics log, progress/cancel, exact resume)
    sandbox.py     running model-written code against tests, isolated
    models/        model specs (default, tiny, folders, GGUF, Hub ids) and the catalog
    data/          dataset readers, validation, snapshots, reasoning / direct views
    tasks/         verifiable task generators (arithmetic, countdown, gsm8k, reasoning-gym)
    rewards/       reward functions for RL
    recipes/       training recipes (sft, grpo)
    inference/     generation engines and inference-time scaling strategies
    evaluation/    the evaluation harness and reports
    compare/       reasoning vs non-reasoning comparison, advice and hybrid routing
    serve/         the OpenAI-compatible server (continuous batching, thinking apart, router, traces)
    studio/        the local web app over the same functions
    flywheel/      continuous fine-tuning from served traces
    export.py      GGUF, Ollama Modelfile, model card
"""

__version__ = "0.1.0"
