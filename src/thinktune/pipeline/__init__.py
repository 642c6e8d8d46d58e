"""Pipelines: stages that are jobs (sft, grpo, sample, distill, eval), chained by name (`thinktune pipeline`).

`config.PipelineConfig` is the typed config (light); `pipeline.run` is the job. `configs/pipelines/r1.yaml`
is DeepSeek-R1's recipe at a CPU size: cold-start SFT, GRPO, rejection sampling, SFT, GRPO.
"""
