"""Laporan Hasil Konsultasi for a period: on screen, print, PDF, CSV, XLSX (issue 15 item 4)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("consultations", __name__)
