"""Where thinktune keeps its cache (converted models, tokenizers). `THINKTUNE_HOME` overrides it."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The cache root: `$THINKTUNE_HOME`, else `$XDG_CACHE_HOME/thinktune`, else `~/.cache/thinktune`."""
    if os.environ.get("THINKTUNE_HOME"):
        root = Path(os.environ["THINKTUNE_HOME"])
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "thinktune"
    root.mkdir(parents=True, exist_ok=True)
    return root
