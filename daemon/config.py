"""The settings, under the import path every module uses: `from kpudesk.daemon.config import ...`.

The value types live in settings.py, reading and validating settings.toml in
settings_read.py (the `[web]` section in settings_web.py); this module only gathers them.
"""
from __future__ import annotations

from .settings import *  # noqa: F403 - the value types, listed in settings.__all__
from .settings import __all__ as _types
from .settings_read import load_settings, settings_from_dict
from .settings_values import parse_duration
from .settings_web import parse_listen

__all__ = [*_types, "load_settings", "parse_duration", "parse_listen", "settings_from_dict"]
