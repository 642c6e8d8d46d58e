"""The local studio: REST API, web UI and serving over the job interface (see `thinktune.studio.app`)."""

from __future__ import annotations

from thinktune.studio.app import StudioSettings, create_studio

__all__ = ["StudioSettings", "create_studio"]
