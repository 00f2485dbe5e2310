"""The torch thread policy: an explicit user choice wins, else size and cores."""

import pytest
import torch
from sklearn.datasets import make_classification

from skbdl import BayesianMLPClassifier
from skbdl.gaussian_process._linalg import gp_num_threads
from skbdl.inference import MAP
from skbdl.utils import _torch
from skbdl.utils._torch import (
    GP_WORK_PER_THREAD,
    MLP_WORK_PER_THREAD,
    default_num_threads,
    get_num_threads,
    torch_threads,
)


@pytest.fixture
def no_user_setting(monkeypatch):
    """No environment variable, and torch at its own default count."""
    for name in ("SKBDL_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(_torch, "_TORCH_DEFAULT_THREADS", torch.get_num_threads())
    monkeypatch.setattr(_torch, "usable_cores", lambda: 8)


class RecordingMAP(MAP):
    """MAP that records the torch thread count its training ran with."""

    def fit(self, problem):
        self.threads_seen_ = torch.get_num_threads()
        return super().fit(problem)


def _fit_threads(**kw):
    X, y = make_classification(n_samples=60, n_features=5, random_state=0)
    params = dict(hidden_layer_sizes=(8,), max_epochs=2, random_state=0)
    params.update(kw)
    clf = BayesianMLPClassifier(method=RecordingMAP(), **params).fit(X, y)
    return clf.method_.threads_seen_


def test_default_is_one_thread_per_measured_work(no_user_setting):
    per = MLP_WORK_PER_THREAD
    assert default_num_threads(0) == 1
    assert default_num_threads(2 * per - 1) == 1
    assert default_num_threads(2 * per) == 2
    assert default_num_threads(5 * per + 3) == 5
    assert default_num_threads(10**15) == 8  # at most the usable cores
    # the digits-sized default fit (64 rows x 17k weights) stays single-threaded
    assert get_num_threads(64 * 17_000) == 1


def test_gp_threads_from_the_cholesky_work(no_user_setting):
    assert GP_WORK_PER_THREAD == 1500**3 // 6
    assert gp_num_threads(1000) == 1
    assert gp_num_threads(1500) == 2
    assert gp_num_threads(1900) == 4  # 1900^3/3 // (1500^3/6) = 4
    assert gp_num_threads(10_000) == 8


def test_skbdl_num_threads_wins(no_user_setting, monkeypatch):
    monkeypatch.setenv("SKBDL_NUM_THREADS", "3")
    assert get_num_threads(0) == get_num_threads(10**15) == 3
    assert gp_num_threads(10) == 3
    before = torch.get_num_threads()
    with torch_threads(work=0):
        assert torch.get_num_threads() == 3
    assert torch.get_num_threads() == before
    assert _fit_threads() == 3
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_bad_skbdl_num_threads_is_a_clear_error(no_user_setting, monkeypatch, value):
    monkeypatch.setenv("SKBDL_NUM_THREADS", value)
    with pytest.raises(ValueError, match="SKBDL_NUM_THREADS must be a positive"):
        get_num_threads()
    with pytest.raises(ValueError, match="SKBDL_NUM_THREADS"):
        _fit_threads()


def test_explicit_torch_setting_is_respected(no_user_setting):
    before = torch.get_num_threads()
    torch.set_num_threads(3)  # the user's choice, after importing skbdl
    try:
        assert get_num_threads(0) == get_num_threads(10**15) == 3
        assert gp_num_threads(10) == 3
        assert _fit_threads() == 3  # the default would be 1 on this problem
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


def test_omp_num_threads_is_respected(no_user_setting, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert get_num_threads(10**15) == torch.get_num_threads()


def test_fit_uses_the_default_and_restores_the_count(no_user_setting):
    before = torch.get_num_threads()
    assert _fit_threads() == 1  # a small problem: one thread
    assert torch.get_num_threads() == before
    # a batch of 60 rows through 5-2048-2048-2 has 60 * 4.2M multiply-adds
    big = dict(hidden_layer_sizes=(2048, 2048), batch_size=60, max_epochs=1)
    assert _fit_threads(**big) == min(
        8, 60 * (5 * 2048 + 2048 + 2048 * 2048 + 2048 + 2 * 2048 + 2)
        // MLP_WORK_PER_THREAD
    )
    assert torch.get_num_threads() == before
