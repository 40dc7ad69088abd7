"""Exact references against arbitrary precision, and the numba loss kernel against its definition."""

import math

import mpmath
import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

import quaddmft as qd
from quaddmft.references import marchenko_pastur_square_loss
from quaddmft._loss import ACT_DOOR, ACT_LINEAR


def _mp_reference(alpha, delta, eta, lam, R, k):
    """C(k) by mpmath quadrature of the Marchenko-Pastur density, 20 digits."""
    mpmath.mp.dps = 20
    sa = mpmath.sqrt(alpha)
    lo, hi = delta * (1 - sa) ** 2, delta * (1 + sa) ** 2

    def integrand(phi):
        # x = lo + (hi - lo) sin^2(phi) removes both square-root edges (and the 1/sqrt(x) of
        # alpha = 1, where lo = 0), so tanh-sinh quadrature is accurate to the working precision.
        sin, cos = mpmath.sin(phi), mpmath.cos(phi)
        x = lo + (hi - lo) * sin**2
        jacobian_times_sqrt = 2 * (hi - lo) ** 2 * sin**2 * cos**2
        weight = jacobian_times_sqrt / (2 * mpmath.pi * delta * x) if x != 0 else 0
        return (1 - eta * lam - eta * x) ** (2 * k) * weight

    total = mpmath.quad(integrand, [0, mpmath.pi / 2])
    if alpha < 1:
        total += (1 - alpha) * (1 - eta * lam) ** (2 * k)
    return float(R * total)


@given(alpha=st.floats(0.3, 4.0), delta=st.floats(0.1, 2.0), lam=st.floats(0.0, 0.5), k=st.integers(0, 12))
@example(alpha=1.0, delta=0.5, lam=0.0, k=7)  # lower spectral edge at 0: once off by 3.5e-12
def test_marchenko_pastur_quadrature_matches_mpmath(alpha, delta, lam, k):
    eta = 0.2 / (delta * (1 + math.sqrt(alpha)) ** 2)  # well inside stability
    C, _ = marchenko_pastur_square_loss(alpha, delta, eta, lam, 1.0, k)
    assert abs(C[k] - _mp_reference(alpha, delta, eta, lam, 1.0, k)) < 1e-12


LOSS_DEFINITIONS = {
    "logistic": lambda v: math.log1p(math.exp(-v)) if v > -30 else -v + math.log1p(math.exp(v)),
    "squared-hinge": lambda v: 0.5 * max(0.0, 1.0 - v) ** 2,
}


@given(name=st.sampled_from(sorted(LOSS_DEFINITIONS)), door=st.booleans(),
       y=st.sampled_from([-1.0, 1.0]), r=st.floats(-6.0, 6.0), L=st.floats(0.2, 1.5))
def test_loss_kernel_matches_definition_and_finite_differences(name, door, y, r, L):
    loss = qd.LOSSES[name]
    act = ACT_DOOR if door else ACT_LINEAR

    def phi(x):
        return x * x - L * L if door else x

    def value(x):
        return loss.terms(y, x, activation_code=act, L=L)[0]

    terms = loss.terms(y, r, activation_code=act, L=L)
    assert math.isclose(terms[0], LOSS_DEFINITIONS[name](y * phi(r)), rel_tol=1e-12, abs_tol=1e-300)
    h = 1e-5
    assert math.isclose(terms[1], (value(r + h) - value(r - h)) / (2 * h), rel_tol=1e-5, abs_tol=1e-7)
    d1 = lambda x: loss.terms(y, x, activation_code=act, L=L)[1]
    if name == "squared-hinge" and abs(1.0 - y * phi(r)) < 1e-3:
        return  # l'' jumps at the hinge
    assert math.isclose(terms[2], (d1(r + h) - d1(r - h)) / (2 * h), rel_tol=1e-5, abs_tol=1e-6)


@given(y=st.floats(-2.0, 2.0), r=st.floats(-5.0, 5.0))
def test_square_loss_is_half_squared_residual(y, r):
    terms = qd.Square().terms(y, r)
    np.testing.assert_allclose(terms, [0.5 * (y - r) ** 2, r - y, 1.0], rtol=1e-14, atol=1e-14)
