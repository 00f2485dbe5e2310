"""``flush_denormal``: subnormals are zero inside, the caller's setting after."""

import pytest
import torch

from skbdl.utils._torch import flush_denormal

if not torch.set_flush_denormal(False):  # pragma: no cover - e.g. some ARM CPUs
    pytest.skip("this CPU cannot flush subnormals", allow_module_level=True)

TINY = torch.tensor([1e-39], dtype=torch.float32)  # below float32's normal range


def _flushing():
    return bool((TINY * 1.0)[0] == 0)


def test_flushes_inside_and_restores_off():
    torch.set_flush_denormal(False)
    assert not _flushing()
    with flush_denormal():
        assert _flushing()
    assert not _flushing()


def test_keeps_a_setting_the_caller_turned_on():
    torch.set_flush_denormal(True)
    try:
        with flush_denormal():
            assert _flushing()
        assert _flushing()
    finally:
        torch.set_flush_denormal(False)
