"""The progress dashboard and the chair's overview (issue 15 items 5 and 7)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("dashboards", __name__)
