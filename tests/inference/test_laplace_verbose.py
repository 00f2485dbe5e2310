"""``verbose`` of Laplace: one line for the posterior step after training."""

import re

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from skbdl import BayesianMLPClassifier, BayesianMLPRegressor
from skbdl.inference import Laplace

_rs = np.random.RandomState(0)
X = _rs.randn(40, 3).astype(np.float32)
Y = X[:, 0] + 0.1 * _rs.randn(40)
FIT = dict(hidden_layer_sizes=(8,), max_epochs=5, random_state=0)
_LINE = re.compile(
    r"^\[Laplace\] posterior: (KFAC|full|diagonal) GGN over (last_layer|all) "
    r"\((\d+) weights\); prior precision( Zellner)? ([-+.e\d]+(?:, [-+.e\d]+)*) (.*); "
    r"\d+\.\d\d s$"
)


def _laplace_lines(out):
    lines = [line for line in out.splitlines() if line.startswith("[Laplace]")]
    matches = [_LINE.match(line) for line in lines]
    assert all(matches), lines
    return matches


@pytest.mark.parametrize(
    "method, criterion",
    [
        (
            Laplace(),
            r"chosen by held-out NLL (-?\d+\.\d{4}) on 4 rows, inside "
            r"the search range \[1e-04, 1e\+06\]; noise std \S+ "
            r"\(standardised y\)",
        ),
        (
            Laplace(
                "all", "diag", prior_precision="marglik", prior_structure="layerwise"
            ),
            r"chosen by log marginal likelihood (-?\d+\.\d{4}), inside the search "
            r"range \[1e-04, 1e\+06\]; noise std \S+ \(standardised y\)",
        ),
        (Laplace(prior_precision=2.0), r"fixed; noise std \S+ \(standardised y\)"),
        (
            Laplace(prior_precision="online", online_burnin=2, online_frequency=2),
            r"learned by online marginal likelihood \(3 updates\); noise std \S+ "
            r"\(standardised y\)",
        ),
    ],
    ids=["holdout", "marglik-layerwise", "fixed", "online"],
)
def test_laplace_verbose_prints_one_posterior_line(capsys, method, criterion):
    est = BayesianMLPRegressor(method=method, verbose=1, **FIT).fit(X, Y)
    (line,) = _laplace_lines(capsys.readouterr().out)
    fitted = est.method_
    assert line.group(3) == str(fitted.n_params_)
    printed = [float(d) for d in line.group(5).split(", ")]
    np.testing.assert_allclose(printed, fitted.prior_precision_, rtol=5e-4)
    found = re.fullmatch(criterion, line.group(6))
    assert found, line.group(6)
    if method.prior_precision == "marglik":
        assert float(found.group(1)) == pytest.approx(
            fitted.log_marginal_likelihood_, abs=5e-5
        )
    noise = re.search(r"noise std (\S+)", line.group(0)).group(1)
    # printed with 4 significant digits ("noise std 0.5905")
    assert float(noise) == pytest.approx(fitted.sigma_noise_, rel=5e-4)
    BayesianMLPRegressor(method=method, **FIT).fit(X, Y)
    assert capsys.readouterr().out == ""


def test_laplace_verbose_says_when_the_precision_is_on_the_range_edge(capsys):
    # the case of test_laplace.py's edge warning: held-out rows pick 1e6
    X_d, y_d = load_digits(return_X_y=True)
    X_d = StandardScaler().fit_transform(X_d[:300])
    clf = BayesianMLPClassifier(
        (16,), method=Laplace(), max_epochs=30, random_state=0, verbose=1
    )
    with pytest.warns(UserWarning, match="top of its search range"):
        clf.fit(X_d, y_d[:300])
    (line,) = _laplace_lines(capsys.readouterr().out)
    assert line.group(1, 2) == ("KFAC", "last_layer")
    assert "at the top of the search range [1e-04, 1e+06]" in line.group(6)
    assert "noise std" not in line.group(0)
