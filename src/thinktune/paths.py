"""Where thinktune keeps its cache (converted models, tokenizers). `THINKTUNE_HOME` overrides it."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The cache root: `$THINKTUNE_HOME`, else `$XDG_CACHE_HOME/thinktune`, else `~/.cache/thinktune`."""
    # empty variables count as unset (an empty XDG_CACHE_HOME would mean "the current folder"), and `~` expands
    if os.environ.get("THINKTUNE_HOME"):
        root = Path(os.environ["THINKTUNE_HOME"]).expanduser()
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "thinktune"
    root.mkdir(parents=True, exist_ok=True)
    return root
