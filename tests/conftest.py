"""Make the shared test modules (``scenarios``, ``reference_predictions``)
importable from every test directory (``--import-mode=importlib`` does not
put ``tests/`` on ``sys.path``)."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
