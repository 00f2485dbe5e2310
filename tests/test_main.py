"""``python -m skbdl`` (``skbdl/__main__.py``): the printed table against
metrics recomputed by hand on the same split (``scenarios.digits_ood``)."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import log_loss, roc_auc_score

import skbdl
from skbdl import BayesianMLPClassifier
from skbdl.__main__ import COLUMNS, main

import scenarios

EPOCHS = 1  # the numbers only have to be reproduced, not to be good


def _entropy(p):
    return -(p * np.log(np.clip(p, 1e-12, None))).sum(1)


def _expected_row():
    """The table row of "map", computed without skbdl.metrics."""
    d = scenarios.digits_ood(seed=0)

    def fit(X, y):
        return BayesianMLPClassifier((100, 100), method="map", max_epochs=EPOCHS,
                                     random_state=0).fit(X, y)

    proba = fit(d.X_train_all, d.y_train_all).predict_proba(d.X_test_all)
    y = d.y_test_all
    conf, correct = proba.max(1), proba.argmax(1) == y
    # 15 right-closed confidence bins: (0, 1/15], ..., (14/15, 1]
    bins = np.clip(np.ceil(conf * 15).astype(int) - 1, 0, 14)
    ece = sum(abs(correct[bins == k].mean() - conf[bins == k].mean())
              * (bins == k).mean() for k in range(15) if (bins == k).any())
    ood = fit(d.X_train, d.y_train)
    p_in, p_out = ood.predict_proba(d.X_test), ood.predict_proba(d.X_ood)
    scores = np.r_[_entropy(p_in), _entropy(p_out)]
    return {"acc": correct.mean(),
            "NLL": log_loss(y, proba, labels=np.arange(10)),
            "ECE": ece,
            "Brier": ((proba - np.eye(10)[y]) ** 2).sum(1).mean(),
            "OOD AUROC": roc_auc_score(np.r_[np.zeros(len(p_in)), np.ones(len(p_out))],
                                       scores),
            "OOD conf": p_out.max(1).mean()}, d


def test_main_prints_the_metrics_of_each_method(tmp_path):
    plot = tmp_path / "reliability.png"
    # run the skbdl that this test imports
    root = str(pathlib.Path(skbdl.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [root, *filter(None, [os.environ.get("PYTHONPATH")])])}
    result = subprocess.run(
        [sys.executable, "-m", "skbdl", "--methods", "map", "--epochs", str(EPOCHS),
         "--plot", str(plot)], capture_output=True, text=True, env=env, timeout=300,
        cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    expected, d = _expected_row()
    assert lines[0].startswith(f"digits: {len(d.y_train_all)} train / "
                               f"{len(d.y_test_all)} test rows")
    header = next(i for i, line in enumerate(lines) if line.startswith("method"))
    assert lines[header].split() == [w for c in COLUMNS for w in c.split()]
    cells = lines[header + 1].split()
    assert cells[0] == "map" and len(cells) == len(COLUMNS)
    printed = dict(zip(COLUMNS[1:], map(float, cells[1:])))
    for name, value in expected.items():
        # printed with 4 decimals: within half a unit of the last digit
        assert printed[name] == pytest.approx(value, abs=5e-5 + 1e-12), name
    assert printed["fit s"] > 0
    # the reliability diagram: one 3.2 x 3.4 inch panel at 110 dpi
    from matplotlib.image import imread

    assert f"reliability diagrams saved to {plot}" in result.stdout
    assert imread(plot).shape[:2] == (round(3.4 * 110), round(3.2 * 110))


def test_main_rejects_unknown_methods(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--methods", "map,nope", "--epochs", "1"])
    assert exc.value.code == 2
    assert "unknown method(s) ['nope']" in capsys.readouterr().err


@pytest.mark.parametrize("epochs", ["0", "-3", "ten"])
def test_main_rejects_epochs_that_are_not_positive(capsys, epochs):
    with pytest.raises(SystemExit) as exc:
        main(["--epochs", epochs])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"--epochs: must be a positive integer; got '{epochs}'" in err
