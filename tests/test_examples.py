"""The prior predictive examples run, with tiny settings, and write their figure."""

import runpy
import time
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("name", ["plot_prior_predictive_architecture.py",
                                  "plot_prior_predictive_uniform.py"])
def test_prior_predictive_example_writes_its_figure(name, tmp_path, capsys):
    namespace = runpy.run_path(str(EXAMPLES / name), run_name="example")
    path = tmp_path / "figure.png"
    start = time.perf_counter()
    namespace["main"](n_draws=3, n_stats=50, n_points=20, path=path)
    elapsed = time.perf_counter() - start
    assert path.stat().st_size > 0
    assert "wrote" in capsys.readouterr().out
    assert elapsed < 10, f"{name} took {elapsed:.1f} s with tiny settings"
