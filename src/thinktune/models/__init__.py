"""Model specs → loaded (model, tokenizer). See `loading.py` for the specs and `catalog.py` for choices."""

from thinktune.models.catalog import CATALOG, CatalogEntry, memory_estimate_gb
from thinktune.models.loading import (
    DEFAULT_MODEL_ID,
    default_gguf_path,
    load_model,
    load_tokenizer,
    resolve_spec,
    tiny_model,
)

__all__ = [
    "CATALOG",
    "CatalogEntry",
    "DEFAULT_MODEL_ID",
    "default_gguf_path",
    "load_model",
    "load_tokenizer",
    "memory_estimate_gb",
    "resolve_spec",
    "tiny_model",
]
