"""The recorded configurations reproduce their predictions bit for bit.

A refactoring of the training core or the methods must not change results;
a change that does on purpose regenerates the file (see
``reference_predictions.py``) and says so in CHANGELOG.md.
"""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from reference_predictions import PATH, configurations, predictions

REFERENCE = np.load(PATH)


@pytest.mark.parametrize("name, estimator, y",
                         [pytest.param(*c, id=c[0]) for c in configurations()])
def test_bitwise_identical(name, estimator, y):
    for key, value in predictions(estimator, y).items():
        assert_array_equal(value, REFERENCE[f"{name}/{key}"], err_msg=f"{name}/{key}")
