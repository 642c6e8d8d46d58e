"""Prepacked oneDNN weights for `nn.Linear` on CPU: the same matmul, without re-laying out the weight.

A CPU `nn.Linear` multiplies by the weight as stored; oneDNN can instead keep each weight in its blocked
layout (`torch.ops.mkldnn._reorder_linear_weight`, the op torch.compile's CPU backend uses) and multiply
with `_linear_pointwise`. Measured on this project's 2-core Xeon (1 thread, SmolLM2-135M decode step):
8 rows 170 → 122 ms (float32) and 89 → 70 ms (bfloat16); 16 rows 195 → 164 ms; but slower below 4 rows
(1 row 71 → 85 ms), so packed weights are used only when a call has at least `min_rows` rows. Logits
match the plain path to ~1e-4 (float32 summation order), i.e. it is the same model.

`PackedLinears(model)` packs every plain `nn.Linear` once (a second copy of the weights: +1× weight memory)
and, used as a context manager, routes their forward through the packed weights. Weights changed after
packing (a training step in between) are detected by their version counter and repacked.
"""

from __future__ import annotations

from typing import Any


def available(model: Any) -> bool:
    """True when packing can help: a float32/bfloat16 model on CPU with oneDNN's linear ops."""
    import torch

    ops = torch.ops.mkldnn
    if not (torch.backends.mkldnn.is_available() and hasattr(ops, "_reorder_linear_weight")
            and hasattr(ops, "_linear_pointwise")):
        return False
    try:
        param = next(model.parameters())
    except (StopIteration, AttributeError):
        return False
    return param.device.type == "cpu" and param.dtype in (torch.float32, torch.bfloat16)


class PackedLinears:
    """Route a model's `nn.Linear` layers through prepacked oneDNN weights while the context is open.

    Args:
        model: the model whose plain `nn.Linear` modules (exact type; LoRA's inner layers included) to pack.
        min_rows: use the packed weight only for inputs with at least this many rows (tokens).
        batch_hint: the row count the blocked layout is tuned for.
    """

    def __init__(self, model: Any, min_rows: int = 4, batch_hint: int = 16) -> None:
        import torch

        self.min_rows, self.batch_hint = min_rows, batch_hint
        self.modules = [m for m in model.modules() if type(m) is torch.nn.Linear and "forward" not in m.__dict__]
        self._packed: dict[int, tuple[Any, tuple[int, int]]] = {}
        self.packed_calls = 0  # how many linear calls went through a packed weight

    def _pack(self, mod: Any) -> Any:
        import torch

        key = (mod.weight.data_ptr(), mod.weight._version)
        entry = self._packed.get(id(mod))
        if entry is None or entry[1] != key:
            with torch.no_grad():
                packed = torch.ops.mkldnn._reorder_linear_weight(mod.weight.detach(), self.batch_hint)
            entry = (packed, key)
            self._packed[id(mod)] = entry
        return entry[0]

    def __enter__(self) -> PackedLinears:
        import torch

        for mod in self.modules:
            packed = self._pack(mod)
            plain = torch.nn.Linear.forward.__get__(mod)

            def forward(x: Any, mod: Any = mod, packed: Any = packed, plain: Any = plain) -> Any:
                rows = x.numel() // x.shape[-1]
                if rows < self.min_rows or x.dtype != packed.dtype or torch.is_grad_enabled():
                    return plain(x)
                self.packed_calls += 1
                y = torch.ops.mkldnn._linear_pointwise(x.reshape(rows, x.shape[-1]).contiguous(), packed,
                                                       mod.bias, "none", [], "")
                return y.reshape(*x.shape[:-1], y.shape[-1])

            mod.forward = forward
        return self

    def __exit__(self, *exc: Any) -> None:
        for mod in self.modules:
            mod.__dict__.pop("forward", None)
