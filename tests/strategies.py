"""Reusable hypothesis strategies for the test suite: the public ``quaddmft.testing`` module.

Kept here so that tests import ``from strategies import ...`` like any test helper, while users get
the same strategies from ``quaddmft.testing``.
"""

from quaddmft.testing import *  # noqa: F401,F403
from quaddmft.testing import __all__  # noqa: F401
