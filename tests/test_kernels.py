"""Every numba kernel of ``quaddmft._kernels`` against its slow numpy twin (STYLE point 8).

Hypothesis draws small random inputs (a few nodes, a few steps); the kernel and its twin must
agree to ~1e-12 of the scale of the result (different summation orders, and for the response
different algorithms: backward substitution, blocked and low-rank, against the forward
recursion). Besides the twins, the design claims of the kernels are checked here: the jitter of
the causal Cholesky factor on rank-deficient Gram matrices, and the blocked response against the
per-node substitution on a long step.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import quaddmft as qd
from quaddmft._kernels import (FINE_CHUNK, RESPONSE_TILE, NodeArrays, StepModel, StepState, SweepBuffers,
                               chunk_drift, cholesky_append_row,
                               cholesky_jitter, cholesky_reference, correct_probability,
                               correct_probability_array, correct_probability_reference,
                               effective_step, grouped_correct_probability,
                               grouped_correct_probability_reference,
                               interpolated_correct_probability,
                               interpolated_correct_probability_reference, reference_step,
                               response_low_rank_kernel, response_row_reference)
from quaddmft._loss import ACT_DOOR, ACT_LINEAR
from quaddmft._observables import h0_interpolation_basis
from quaddmft._quadrature import gauss_hermite
from quaddmft._response import ResponseBlocks, ResponseOptions, response_rows
from quaddmft.rules import NodeSet


def floats(low=-1.0, high=1.0):
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def matrices(shape, low=-1.0, high=1.0):
    return hnp.arrays(np.float64, shape, elements=floats(low, high))


def assert_close(actual, expected, rtol=1e-12, err_msg=""):
    """Equal to ``rtol`` relative to the largest entry of ``expected`` (at least 1)."""
    expected = np.asarray(expected)
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=err_msg)


# ------------------------------------------------------------------------- effective_step
@st.composite
def step_inputs(draw, door, given=False):
    """A short random march: nodes, R, noise rows and weight-side states for k = 0..K."""
    N, K = draw(st.integers(1, 5)), draw(st.integers(1, 6))
    delta = draw(floats(0.05, 2.0))
    mixture = (qd.ThreeCluster(2.0, delta, draw(floats(0.3, 1.5))) if door
               else qd.TwoCluster(2.0, delta))
    loss = qd.LOSSES[draw(st.sampled_from(sorted(qd.LOSSES)))]
    nodes = NodeSet(
        weight=np.full(N, 1.0 / N),
        c=draw(hnp.arrays(np.float64, N, elements=st.sampled_from([-1.0, 0.0, 1.0]))),
        y=draw(hnp.arrays(np.float64, N, elements=st.sampled_from([-1.0, 0.0, 1.0]))),
        h0=draw(matrices(N, -2.0, 2.0)), h_init=draw(matrices(N, -2.0, 2.0)),
        # htilde given: innovations[:, k] is htilde(k) itself (KL coordinates already mapped).
        innovations=draw(matrices((N, K + 1 if given else K), -2.0, 2.0)),
        s=draw(hnp.arrays(np.float64, (N, K + 1), elements=st.sampled_from([0.0, 1.0]))),
    )
    R = np.tril(draw(matrices((K + 1, K + 1))), -1)
    noise = np.tril(draw(matrices((K + 1, K), -0.5, 0.5)), -1)  # row k: B(k-1, i <= k-1)
    states = [StepState(draw(floats(-1.0, 1.0)), draw(floats(-1.0, 1.0)), draw(floats(0.0, 1.0)),
                        draw(st.sampled_from([0.0, 0.3]))) for _ in range(K + 1)]
    model = StepModel(loss.code, mixture.activation_code, mixture.L, delta, draw(floats(0.01, 0.5)),
                      given)
    return loss, mixture, model, nodes, R, noise, states


@pytest.mark.parametrize("given", [False, True], ids=["causal-noise", "htilde-given"])
@pytest.mark.parametrize("with_response", [True, False, "alternating"],
                         ids=["per-node-response", "no-response", "alternating"])
@pytest.mark.parametrize("door", [False, True], ids=["linear", "door"])
@given(data=st.data())
def test_effective_step_matches_reference_step(door, with_response, given, data):
    """Step by step k = 0..K, per-node response (``with_response``) or not, or on every other
    step (blocked steps between per-node ones: the kernel keeps each node's active steps
    through both), noise through the causal rows or htilde given: xi, grad, curv, Lambda',
    Lambda'', the feedback F(k), loss, rbar and the response row rho(k, .) of every node agree
    with the numpy twin."""
    loss, mixture, model, nodes, R, noise, states = data.draw(step_inputs(door, given))
    N, K = nodes.size, R.shape[0] - 1
    arrays = NodeArrays(nodes.c, nodes.y, nodes.h0, nodes.h_init, nodes.innovations, nodes.s)
    fast, slow, rho_rows = SweepBuffers.zeros(N, K), SweepBuffers.zeros(N, K), []
    for k in range(K + 1):
        noise_row = np.ascontiguousarray(noise[k])
        with np.errstate(all="ignore"):
            value, rbar = reference_step(k, loss, mixture, model, states[k], R[k], noise_row,
                                         nodes, slow, rho_rows)
        if not all(np.all(np.isfinite(x))
                   for x in (value, rbar, slow.grad, slow.curv, rho_rows[k])):
            # The door with the square or squared-hinge loss is cubic in r: a random march can
            # overflow within a few steps (never at k = 0). Compare the steps before it.
            assert k > 0
            break
        per_node = (k % 2 == 1) if with_response == "alternating" else with_response
        effective_step(k, model, states[k], R, noise_row, arrays, fast, per_node)
        assert_close(fast.xi[:, :k], slow.xi[:, :k], err_msg=f"xi, k={k}")
        assert_close(fast.feedback, slow.feedback, err_msg=f"feedback, k={k}")
        assert_close(fast.grad[:, k], slow.grad[:, k], err_msg=f"grad, k={k}")
        assert_close(fast.curv[:, k], slow.curv[:, k], err_msg=f"curv, k={k}")
        assert_close(fast.d1, slow.d1, err_msg=f"Lambda', k={k}")
        assert_close(fast.d2, slow.d2, err_msg=f"Lambda'', k={k}")
        assert_close(fast.loss, value, err_msg=f"loss, k={k}")
        assert_close(fast.rbar, rbar, err_msg=f"rbar, k={k}")
        if per_node:
            assert_close(fast.response[:, : k + 1], rho_rows[k], err_msg=f"response, k={k}")
        elif not with_response:
            assert not fast.response.any()  # left to _response.response_rows


# ---------------------------------------------------------------------- correct_probability
@pytest.mark.parametrize("random_sd", [False, True], ids=["sd=0", "sd>0"])
@pytest.mark.parametrize("door", [False, True], ids=["linear", "door"])
@given(L=floats(0.2, 1.5), sd=floats(1e-3, 3.0),
       y=hnp.arrays(np.float64, st.integers(1, 12), elements=st.sampled_from([-1.0, 0.0, 1.0])),
       data=st.data())
def test_correct_probability_matches_reference(door, random_sd, L, sd, y, data):
    act = ACT_DOOR if door else ACT_LINEAR
    sd = sd if random_sd else 0.0
    rbar = data.draw(matrices(y.size, -4.0, 4.0))
    expected = correct_probability_reference(act, L, y, rbar, sd)
    assert_close(correct_probability_array(act, L, y, rbar, sd), expected)
    for i in range(y.size):
        assert_close(correct_probability(act, L, y[i], rbar[i], sd), expected[i])
    assert np.all((expected >= 0.0) & (expected <= 1.0))
    assert np.all(expected[y == 0.0] == 0.0)


@st.composite
def interpolation_inputs(draw, random_sd):
    """y (n_outer, n_inner), rbar (n_outer, n_h0, n_inner), basis (n_fine, n_h0), sd. With sd = 0
    the probability is an indicator of the interpolated rbar: its entries are dyadic with few
    bits, so that both summation orders give the same rbar exactly and no indicator flips on a
    last-bit difference at its jump."""
    n_outer, n_h0, n_inner, n_fine = (draw(st.integers(1, 4)) for _ in range(4))
    sd = draw(floats(1e-3, 2.0)) if random_sd else 0.0
    if sd == 0.0:
        rbar = draw(hnp.arrays(np.int64, (n_outer, n_h0, n_inner),
                               elements=st.integers(-16, 16))) / 8
        basis = draw(hnp.arrays(np.int64, (n_fine, n_h0), elements=st.integers(-4, 4))) / 4
    else:
        rbar = draw(matrices((n_outer, n_h0, n_inner), -3.0, 3.0))
        basis = draw(matrices((n_fine, n_h0), -1.5, 1.5))
    y = draw(hnp.arrays(np.float64, (n_outer, n_inner), elements=st.sampled_from([-1.0, 0.0, 1.0])))
    return y, rbar, basis, sd


@pytest.mark.parametrize("random_sd", [False, True], ids=["sd=0", "sd>0"])
@pytest.mark.parametrize("door", [False, True], ids=["linear", "door"])
@given(L=st.sampled_from([0.25, 0.75, 1.5]), data=st.data())
def test_interpolated_correct_probability_matches_reference(door, random_sd, L, data):
    y, rbar, basis, sd = data.draw(interpolation_inputs(random_sd))
    act = ACT_DOOR if door else ACT_LINEAR
    expected = interpolated_correct_probability_reference(act, L, y, rbar, sd, basis)
    assert expected.shape == y.shape
    assert_close(interpolated_correct_probability(act, L, y, rbar, sd, basis), expected)


@pytest.mark.parametrize("random_sd", [False, True], ids=["sd=0", "sd>0"])
@pytest.mark.parametrize("door", [False, True], ids=["linear", "door"])
@given(L=st.sampled_from([0.25, 0.75, 1.5]), data=st.data())
def test_grouped_correct_probability_matches_reference(door, random_sd, L, data):
    """Per-group bases, fine weights and real-valued labels on the fine grid (teacher-student
    data); the same dyadic inputs at sd = 0 as ``interpolation_inputs``."""
    _, rbar, basis, sd = data.draw(interpolation_inputs(random_sd))
    G, n_h0, _ = rbar.shape
    n_fine = basis.shape[0]
    bases = np.stack([basis[np.roll(np.arange(n_fine), g)] for g in range(G)])
    y_fine = data.draw(matrices((G, n_fine), -2.0, 2.0))
    weight = data.draw(hnp.arrays(np.int64, (G, n_fine), elements=st.integers(1, 4))) / 8
    act = ACT_DOOR if door else ACT_LINEAR
    expected = grouped_correct_probability_reference(act, L, y_fine, rbar, sd, bases, weight)
    assert expected.shape == (G, rbar.shape[2])
    assert_close(grouped_correct_probability(act, L, y_fine, rbar, sd, bases, weight), expected)


@given(n_fine=st.integers(1, 40), data=st.data())
def test_chunk_drift_bounds_how_far_the_interpolant_moves_in_a_chunk(n_fine, data):
    """For r = basis @ rbar: |r(f) - r(first point of f's chunk)| <= sum_i D[chunk, i] |rbar_i|,
    the bound by which ``banded_fine_probability`` skips saturated chunks; and it is the
    smallest such per-coordinate bound (attained for rbar a unit vector)."""
    basis = data.draw(matrices((n_fine, 3), -2.0, 2.0))
    rbar = data.draw(matrices(3, -3.0, 3.0))
    drift = chunk_drift(basis)
    assert drift.shape == (-(-n_fine // FINE_CHUNK), 3)
    r = basis @ rbar
    for f in range(n_fine):
        ch = f // FINE_CHUNK
        assert abs(r[f] - r[ch * FINE_CHUNK]) <= drift[ch] @ np.abs(rbar) + 1e-12
    for ch in range(drift.shape[0]):
        block = basis[ch * FINE_CHUNK: (ch + 1) * FINE_CHUNK]
        np.testing.assert_array_equal(drift[ch], np.abs(block - block[0]).max(axis=0))


def test_interpolated_correct_probability_with_the_solver_basis():
    """The basis the QMC rule uses (Lagrange polynomials of 6 Gauss-Hermite nodes on the 512-point
    fine grid), and rbar linear in h0: the interpolation is exact, so the average is the fine-grid
    mean of P(y phi(rbar(h0)) > 0)."""
    nodes, _ = gauss_hermite(6)
    basis = h0_interpolation_basis(nodes)
    rng = np.random.default_rng(0)
    slope, offset = rng.standard_normal((2, 3, 1, 5))
    rbar = offset + slope * nodes[None, :, None]
    y = rng.choice([-1.0, 1.0], size=(3, 5))
    # sd = 0.01: most fine points saturated (P exactly 0 or 1), the chunked path of
    # fine_grid_probability; rows of y = 0 too.
    y[0, 0] = 0.0
    for act, sd in ((ACT_LINEAR, 0.4), (ACT_DOOR, 0.4), (ACT_LINEAR, 0.0), (ACT_LINEAR, 0.01)):
        fast = interpolated_correct_probability(act, 0.7, y, rbar, sd, basis)
        assert_close(fast, interpolated_correct_probability_reference(act, 0.7, y, rbar, sd, basis))
        if sd > 0.0:  # the fine grid of h0 values, where rbar is linear
            fine = basis @ nodes
            direct = correct_probability_reference(act, 0.7, y[:, None, :],
                                                   offset + slope * fine[None, :, None], sd)
            assert_close(fast, direct.mean(axis=1))


# ------------------------------------------------------------------------ causal Cholesky
def causal_factor(M, jitter=cholesky_jitter):
    """The factor the sweep builds: ``cholesky_append_row`` row by row, jitter from the running
    maximum of the diagonal. Returns (factor, jitter added per row)."""
    chol, added = np.zeros_like(M), np.zeros(M.shape[0])
    scale = np.maximum.accumulate(np.diag(M))
    for j in range(M.shape[0]):
        added[j] = jitter(j, scale[j])
        cholesky_append_row(chol, M, j, added[j])
    return chol, added


@st.composite
def positive_definite(draw):
    n = draw(st.integers(1, 10))
    A = draw(matrices((n, n + draw(st.integers(0, 4)))))
    return A @ A.T + draw(floats(0.1, 1.0)) * np.eye(n)


@given(M=positive_definite())
def test_cholesky_append_row_matches_reference(M):
    chol, added = causal_factor(M)
    expected = cholesky_reference(M, added)
    assert_close(chol, expected)
    assert np.all(added > 0.0)
    assert np.all(np.triu(chol, 1) == 0.0)


def test_cholesky_append_row_returns_the_pivot_negative_for_an_indefinite_matrix():
    M = np.array([[1.0, 0.9, 0.0], [0.9, 1.0, 0.9], [0.0, 0.9, 1.0]])  # eigenvalues 1, 1 +- 1.27
    chol = np.zeros((3, 3))
    pivots = [cholesky_append_row(chol, M, j, 0.0) for j in range(3)]
    assert pivots[0] == 1.0 and pivots[1] == pytest.approx(1 - 0.81)
    assert pivots[2] == pytest.approx(1.0 - 0.81 / 0.19) and pivots[2] < 0.0
    assert chol[2, 2] == 0.0  # the column it cannot factor is zero


def _gram_of_smooth_gradients(K, N=5000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.linspace(0.05, 1.0, K)
    modes = np.stack([np.sin((j + 1) * t) / (j + 1) ** 3 for j in range(4)])
    X = np.tanh(3 * rng.standard_normal((N, 4)) @ modes + 0.1 * np.outer(rng.standard_normal(N), t**2))
    return X.T @ X / N


@pytest.mark.parametrize("K", [120, 400])
def test_causal_cholesky_is_accurate_on_a_rank_deficient_gram_matrix(K):
    """M_C of full-batch GD is the Gram matrix of slowly varying per-node gradients: numerically
    rank-deficient. Unpivoted Cholesky of such a matrix is not backward stable; with the jitter D
    the factor must give L L^T = M + D to round-off, so xi has the covariance M_C up to a white
    noise of relative variance <= 100 (j + 1) eps <= 1e-11 per step here."""
    M = _gram_of_smooth_gradients(K)
    scale = np.diag(M).max()
    assert np.linalg.eigvalsh(M)[0] < 1e-13 * scale  # the hard case is exercised
    plain, _ = causal_factor(M, lambda j, s: 0.0)
    assert np.abs(plain @ plain.T - M).max() > 1e-3 * scale  # ... and breaks the plain factor
    chol, added = causal_factor(M)
    assert added.max() <= 1e-11 * scale
    assert np.abs(chol @ chol.T - M - np.diag(added)).max() < 1e-13 * scale


def test_causal_cholesky_of_a_well_conditioned_matrix_is_the_plain_one():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((60, 200))
    M = A @ A.T / 200
    chol, _ = causal_factor(M)
    np.testing.assert_allclose(chol, np.linalg.cholesky(M), rtol=0, atol=1e-11)


# --------------------------------------------------------------------------- blocked response
@st.composite
def response_inputs(draw):
    """R strictly lower triangular, curv (with zeros: unselected steps), a small block size so
    that a short row spans several blocks; low_rank True compresses the blocks it can (few rows
    past the block, or a smooth R), False keeps them all dense."""
    N, k, block = draw(st.integers(1, 5)), draw(st.integers(1, 30)), draw(st.integers(2, 8))
    smooth = draw(st.booleans())
    if smooth:  # low rank: R(j, l) = a(j) b(l) + c(j) d(l)
        u = draw(matrices((k + 1, 4)))
        R = np.tril(np.outer(u[:, 0], u[:, 1]) + np.outer(u[:, 2], u[:, 3]), -1)
    else:
        R = np.tril(draw(matrices((k + 1, k + 1))), -1)
    curv = draw(matrices((N, k + 1), 0.0, 1.0)) * draw(
        hnp.arrays(np.float64, (N, k + 1), elements=st.sampled_from([0.0, 1.0])))
    options = ResponseOptions(block=block, low_rank=draw(st.booleans()))
    return k, draw(floats(0.05, 0.5)), draw(floats(0.1, 1.0)), R, curv, options


@given(inputs=response_inputs())
def test_response_rows_match_reference(inputs):
    """``response_rows`` (dense blocks: ``response_block_kernel``; every full block low-rank:
    the fused ``response_low_rank_kernel``) against the forward recursion."""
    k, eta, delta, R, curv, options = inputs
    blocks = ResponseBlocks(k, options)
    for j in range(k + 1):
        blocks.add_row(R, j)
    response = np.zeros_like(curv)
    response_rows(k, eta, delta, R, np.ascontiguousarray(R.T), curv, response, blocks)
    assert_close(response, response_row_reference(k, eta, delta, R, curv))


@pytest.mark.parametrize("block", [6, 7])
def test_low_rank_kernel_does_not_depend_on_the_tiling(block):
    """``response_low_rank_kernel`` runs its nodes in tiles of RESPONSE_TILE in lockstep: each
    node's row must be, bit for bit, the row of that node solved alone (a tile padded with
    copies), for a node count that is not a multiple of the tile, odd ranks and an odd block."""
    k = 23
    j, l = np.meshgrid(np.arange(k + 1), np.arange(k + 1), indexing="ij")
    R = np.tril(np.exp(-0.1 * (j - l)) * (1.0 + 0.5 * np.cos(0.3 * (j - l))), -1)  # rank 3
    blocks = ResponseBlocks(k, ResponseOptions(block=block, max_rank_fraction=1.0))
    for row in range(k + 1):
        blocks.add_row(R, row)
    assert blocks.all_low_rank and np.any(blocks.rank[: blocks.n_closed] % 2 == 1)
    curv = np.random.default_rng(3).random((RESPONSE_TILE + 3, k + 1))
    curv[:, ::5] = 0.0  # unselected steps
    together = np.zeros_like(curv)
    response_low_rank_kernel(k, curv, R, blocks.bases, blocks.coef, blocks.rank, block, -0.15,
                             together)
    for n in range(curv.shape[0]):
        alone = np.zeros((1, k + 1))
        response_low_rank_kernel(k, curv[n : n + 1], R, blocks.bases, blocks.coef, blocks.rank,
                                 block, -0.15, alone)
        assert np.array_equal(alone[0], together[n])
    assert_close(together, response_row_reference(k, 0.3, 0.5, R, curv))


@pytest.mark.parametrize("low_rank", [True, False])
def test_response_rows_match_reference_through_each_kernel(low_rank):
    """Each kernel for certain, whatever hypothesis draws above: a smooth R over several closed
    blocks is all low-rank (the fused kernel), unless compression is switched off (dense
    blocks, ``response_block_kernel``)."""
    k, block = 20, 4
    j, l = np.meshgrid(np.arange(k + 1), np.arange(k + 1), indexing="ij")
    R = np.tril(np.exp(-0.1 * (j - l)), -1)
    blocks = ResponseBlocks(k, ResponseOptions(block=block, low_rank=low_rank))
    for row in range(k + 1):
        blocks.add_row(R, row)
    assert blocks.n_closed == k // block and blocks.all_low_rank == low_rank
    curv = np.random.default_rng(2).random((3, k + 1))
    response = np.zeros_like(curv)
    response_rows(k, 0.3, 0.5, R, np.ascontiguousarray(R.T), curv, response, blocks)
    assert_close(response, response_row_reference(k, 0.3, 0.5, R, curv))


def _per_node_and_blocked_response(R, curv, k):
    """Row k of every node's response by ``effective_step`` (per node) and ``response_rows``
    (blocked, default block size)."""
    N = curv.shape[0]
    R_T = np.ascontiguousarray(R.T)
    per_node, blocked = np.zeros((N, k + 1)), np.zeros((N, k + 1))
    model = StepModel(0, ACT_LINEAR, 0.0, 0.5, 0.2)
    state = StepState(0.3, 1.0, 1.0, 0.0)
    nodes = NodeArrays(np.ones(N), np.ones(N), np.zeros(N), np.zeros(N), np.zeros((N, k)),
                       np.ones((N, k + 1)))
    buffers = SweepBuffers.zeros(N, k)._replace(curv=curv.copy(), response=per_node)
    effective_step(k, model, state, R, np.zeros(k), nodes, buffers, True)
    blocks = ResponseBlocks(k, ResponseOptions())
    for j in range(k + 1):
        blocks.add_row(R, j)
    response_rows(k, 0.2, 0.5, R, R_T, curv, blocked, blocks)
    return per_node, blocked, blocks


def test_blocked_response_rows_equal_the_per_node_substitution():
    """One step, same inputs: the blocked response solves the same triangular systems. A random
    R is incompressible (every block dense), a smooth one low-rank; both must agree."""
    rng = np.random.default_rng(3)
    N, k = 50, 200
    a = rng.random((N, k + 1)) * (rng.random((N, k + 1)) < 0.6)  # zeros: unselected steps
    j, l = np.meshgrid(np.arange(k + 1), np.arange(k + 1), indexing="ij")
    smooth = np.tril(np.exp(-0.01 * (j - l)) * (1 + 0.3 * np.sin(0.02 * l)), -1)
    for R, dense in ((np.tril(0.5 + 0.5 * rng.random((k + 1, k + 1)), -1), True), (smooth, False)):
        per_node, blocked, blocks = _per_node_and_blocked_response(R, a, k)
        if dense:  # a block with more rows than the rank cap cannot be compressed
            B = blocks.block
            assert all((rank < 0) == (k - (c + 1) * B + 1 > blocks.max_rank)
                       for c, rank in enumerate(blocks.rank[: blocks.n_closed]))
        else:
            closed = blocks.rank[: blocks.n_closed]
            assert closed.max() <= 12 and np.all(closed >= 0)
        assert np.abs(per_node[:, :100]).max() > 1e-3  # long-range entries are not negligible
        np.testing.assert_allclose(blocked, per_node, rtol=1e-12, atol=1e-14 * np.abs(per_node).max())
