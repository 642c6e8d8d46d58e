"""Distillation: a teacher's reasoning traces, rejection-sampled into a training set (`thinktune distill`).

`config.DistillConfig` is the job's typed config (light); `distill.run` is the job (see its docstring for the
run folder). The R1 pipeline's `sample` stage is this job with the current model as the teacher.
"""
