"""Reasoning or not, measured: `advise` (the rule of thumb), `compare` (the measurement), `recommend` (the
maths that turns a compare table into a verdict) and `router` (hybrid serving by estimated difficulty).

Modules import nothing heavy at the top level; the pipeline in `compare.compare` imports torch/TRL lazily.
"""

from thinktune.compare.advise import Advice, advise
from thinktune.compare.recommend import Measured, Recommendation, recommend

__all__ = ["Advice", "Measured", "Recommendation", "advise", "recommend"]
