"""Buku Tamu / Daftar Hadir and the other channels' register with documentation upload (issue 15 items 1-2)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("guestbook", __name__)
