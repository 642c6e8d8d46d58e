"""OpenAI-compatible serving with the thinking returned apart from the answer (see `thinktune.serve.app`).

    from thinktune.serve import load_served, create_app, ServerSettings
    app = create_app(load_served(["runs/compare"]), ServerSettings(api_key=None))
"""

from __future__ import annotations

from thinktune.serve.app import LOOPBACK, ServerSettings, ServerThread, create_app
from thinktune.serve.models import load_served

__all__ = ["LOOPBACK", "ServerSettings", "ServerThread", "create_app", "load_served"]
