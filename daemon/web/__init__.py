"""The officers' web desk (Flask): app factory in `app.py`, one blueprint per area."""
