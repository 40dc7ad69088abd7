"""Shared test configuration: hypothesis profiles, and the catalogue (``catalogue.py``) as fixtures.

Test modules import the catalogue's constants directly (``from catalogue import TWO_CLUSTER``,
also usable in ``parametrize`` and hypothesis strategies); the parametrised fixtures below run a
test over every catalogue schedule (``schedule_name``) or every registered averaging rule
(``rule_name``, with its small instance ``small_rule``).
"""

import os

import pytest
from hypothesis import HealthCheck, settings

import catalogue

# Deterministic profile for CI; `HYPOTHESIS_PROFILE=deep` explores more examples on demand.
settings.register_profile(
    "ci", max_examples=20, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "deep", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(params=sorted(catalogue.SELECTION_PROCESSES))
def schedule_name(request):
    """The id (a key of ``catalogue.SELECTION_PROCESSES``) of every catalogue schedule in turn."""
    return request.param


@pytest.fixture(params=sorted(catalogue.SMALL_RULES))
def rule_name(request):
    """The name (a key of ``quaddmft.RULES``) of every registered averaging rule in turn."""
    return request.param


@pytest.fixture
def small_rule(rule_name):
    """The catalogue's small instance of the rule ``rule_name``."""
    return catalogue.SMALL_RULES[rule_name]
