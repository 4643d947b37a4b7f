"""Where the tests find the repository and their data, wherever a test module sits."""
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent          # the repository: settings.toml, templates/, systemd/
DATA = TESTS / "data"        # test inputs: FAQ questions, progress CSVs
