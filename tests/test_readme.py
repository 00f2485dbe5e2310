"""The README's quick start and ``.ci/run`` run the same test command."""

import pathlib
import re
import warnings

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _normalise(command):
    """One line, single spaces, without pip's ``--quiet``."""
    command = command.replace("\\\n", " ").replace("--quiet", "")
    return " ".join(command.split())


def test_readme_has_two_commands_and_ci_runs_the_second():
    readme = (ROOT / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)```", quick_start, flags=re.S)
    assert len(commands) == 2
    ci = (ROOT / ".ci" / "run").read_text()
    ci_command = _normalise(ci[ci.index("pip install --quiet torch"):])
    assert ci_command == _normalise(commands[1])
    assert "requirements-oracles.txt" in ci_command and "--no-deps" in ci_command


def test_oracle_requirements_are_pinned():
    lines = [line.strip() for line in
             (ROOT / "requirements-oracles.txt").read_text().splitlines()]
    pins = [line for line in lines if line and not line.startswith("#")]
    assert pins and all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][\w.]*", p) for p in pins)
    names = {p.split("==")[0].lower().replace("_", "-") for p in pins}
    assert "laplace-torch" in names
    assert not names & {"torch", "torchvision"}  # never replace the CPU torch


def _python_blocks():
    readme = (ROOT / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", readme, flags=re.S)


@pytest.mark.parametrize("index", range(len(_python_blocks())))
def test_readme_snippets_run_as_written(index):
    """Each ``python`` block of the README runs on its own, as a user pastes it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence notes of short fits
        exec(compile(_python_blocks()[index], f"README.md block {index}", "exec"), {})
    plt.close("all")
