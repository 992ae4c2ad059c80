"""The attention and transformer topics end to end.

1. every registered derivation of both topics verifies, each step "proved";
2. three sources agree on attention_backward over the issue's whole range
   (batch up to 3, T and S up to 16, d up to 8, scores up to 1e4, causal or
   not): the result of the attention-backward-* derivations as one
   shape-generic matrix expression evaluated at 50 digits with mpmath, a
   complex-step derivative of the implemented forward function, and the
   implemented gradient;
3. the numeric edge cases: huge scores, the mask, bad input, dtypes;
4. the GPT-3 arithmetic, recomputed here from the dimensions.
"""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sympy.matrices.expressions import (
    HadamardPower,
    HadamardProduct,
    MatAdd,
    MatMul,
    MatrixSymbol,
    OneMatrix,
    Transpose,
)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

import derivations
import numeric
from derivations import attention as sym
from derivations import transformer
from derivations.core import check_equal
from numeric.attention import attention, attention_backward
from numeric.testing import finite_arrays

EPS = np.finfo(np.float64).eps
SUBNORMAL = float(np.finfo(np.float64).smallest_subnormal)  # 2^-1074
H = 1e-30  # the complex step
BAR = 1e-10  # the bar: relative error of each gradient, normwise


@pytest.mark.parametrize("name", derivations.names("attention") + derivations.names("transformer"))
def test_every_step_is_proved(name: str) -> None:
    report = derivations.get(name).verify()
    assert [sv.verdict.status for sv in report.steps] == ["proved"] * len(report.steps), [
        str(sv.verdict) for sv in report.steps
    ]


def test_the_backward_derivations_name_the_implementation() -> None:
    for name in ("attention-backward-dq", "masked-attention-backward-dk"):
        assert derivations.get(name).implementation == "numeric.attention_backward"


# ----- GPT-3 -------


def test_gpt3_total_is_exact() -> None:
    # Recomputed here from the notes' formulas, not from the module's table.
    e, v, q, h, layers, n = 12288, 50257, 128, 96, 96, 49152
    expected = 2 * e * v + 4 * q * e * h * layers + 2 * n * e * layers
    assert expected == 175_181_291_520
    counts = transformer.category_counts()
    assert sum(counts.values()) == expected
    assert (
        counts["key"]
        == counts["query"]
        == counts["value"]
        == counts["output"]
        == q * e * h * layers
    )
    assert sp.Integer(transformer.GPT3_TOTAL) == derivations.get("gpt3-parameter-count").result


def test_gpt3_matrix_count() -> None:
    h, layers = 96, 96
    assert 1 + layers * (3 * h + 1 + 2) + 1 == 27_938
    assert derivations.get("gpt3-matrix-count").result == 27_938


# ----- the three sources -------
#
# The symbolic source is the proved backward pass written once as a SymPy matrix
# expression, generic in the shapes (T, S, d_k, d_v are symbols).  One small
# evaluator interprets it on NumPy object arrays: of mpmath numbers for any shape
# and batch (the reference), or of SymPy symbols at the derivations' shape, where
# the result is proved equal to each attention-backward derivation's result
# (test_the_symbolic_source_is_the_proved_result).  So the reference is the
# derivations' result, evaluated by the code that the proof covers.

_T, _S, _DK, _DV = sp.symbols("T S d_k d_v", integer=True, positive=True)
MQ, MK = MatrixSymbol("Q", _T, _DK), MatrixSymbol("K", _S, _DK)
MV, MG = MatrixSymbol("V", _S, _DV), MatrixSymbol("G", _T, _DV)
MM = MatrixSymbol("M", _T, _S)  # the additive mask: 0, or -oo where key j > query i


def _rowsum_broadcast(X: Any) -> Any:
    """rowsum(X) 1^T: each row's sum, repeated along the row (X is T x S)."""
    return X * OneMatrix(_S, 1) * OneMatrix(1, _S)


def backward_matrix_form() -> tuple[Any, Any, Any]:
    r"""(dQ, dK, dV), the attention-backward-* results, as shape-generic matrix expressions.

    P = softmax(Q K^T / sqrt(d_k) + M) row by row (the exponentials over their
    row sums), dP = G V^T, dS = P * (dP - rowsum(dP * P)), dQ = dS K / sqrt(d_k),
    dK = dS^T Q / sqrt(d_k), dV = P^T G; * is the entrywise product.
    """
    root = sp.sqrt(_DK)
    E = (MQ * MK.T / root + MM).applyfunc(sp.exp)
    P = HadamardProduct(E, HadamardPower(_rowsum_broadcast(E), -1))
    dP = MG * MV.T
    dS = HadamardProduct(P, dP - _rowsum_broadcast(HadamardProduct(dP, P)))
    return dS * MK / root, dS.T * MQ / root, P.T * MG


def evaluate(exprs: Any, env: dict, dims: dict, scalar: Any, elementwise: Any) -> list[Any]:
    """The matrix expressions ``exprs`` on object arrays (any leading batch axes).

    ``env`` maps each MatrixSymbol to an array, ``dims`` each dimension symbol
    to an int; ``scalar`` turns a SymPy scalar (with ``dims`` substituted) into
    a number, ``elementwise`` a Lambda into a function of one entry.  Each
    subexpression is evaluated once.  A node of any other kind is a TypeError.
    """
    memo: dict[Any, Any] = {}

    def ev(e: Any) -> Any:
        if e not in memo:
            memo[e] = _node(e, ev, env, dims, scalar, elementwise)
        return memo[e]

    return [ev(e) for e in exprs]


def _node(e: Any, ev: Any, env: dict, dims: dict, scalar: Any, elementwise: Any) -> Any:
    if isinstance(e, MatrixSymbol):
        return env[e]
    if not e.is_Matrix:
        return scalar(e.subs(dims))
    if isinstance(e, MatMul):
        coeff, mats = e.as_coeff_matrices()
        out = ev(mats[0])
        for m in mats[1:]:
            out = np.matmul(out, ev(m))
        return out * scalar(coeff.subs(dims))
    if isinstance(e, (MatAdd, HadamardProduct)):
        values = [ev(a) for a in e.args]
        join = np.add if isinstance(e, MatAdd) else np.multiply
        out = values[0]
        for v in values[1:]:
            out = join(out, v)
        return out
    if isinstance(e, HadamardPower):
        return ev(e.base) ** scalar(e.exp.subs(dims))
    if isinstance(e, Transpose):
        return np.swapaxes(ev(e.arg), -1, -2)
    if isinstance(e, OneMatrix):
        return np.ones((int(e.rows.subs(dims)), int(e.cols.subs(dims))), dtype=object)
    if isinstance(e, ElementwiseApplyFunction):
        return np.vectorize(elementwise(e.function), otypes=[object])(ev(e.expr))
    raise TypeError(f"no evaluation for {type(e).__name__}: {e}")


def _mask(T: int, S: int, causal: bool, minus_infinity: Any) -> np.ndarray:
    return np.array(
        [[minus_infinity if causal and j > i else 0 for j in range(S)] for i in range(T)],
        dtype=object,
    )


_to_mpf = np.vectorize(mpmath.mpf, otypes=[object])


def _mpmath_backward(Q, K, V, dO, causal: bool) -> list[np.ndarray]:
    """The matrix form on mpmath numbers at the working precision (mpmath.mp.dps)."""
    T, dk = Q.shape[-2:]
    S, dv = V.shape[-2:]
    env = {MQ: _to_mpf(Q), MK: _to_mpf(K), MV: _to_mpf(V), MG: _to_mpf(dO)}
    env[MM] = _to_mpf(_mask(T, S, causal, -np.inf))  # e^-inf is exactly 0 in mpmath too
    return evaluate(
        backward_matrix_form(),
        env,
        {_T: T, _S: S, _DK: dk, _DV: dv},
        scalar=lambda x: mpmath.mpf(sp.N(x, mpmath.mp.dps + 10)),
        elementwise=lambda f: sp.lambdify(f.variables, f.expr, modules="mpmath"),
    )


def symbolic_gradients(Q, K, V, dO, causal: bool, digits: int = 50) -> tuple[np.ndarray, ...]:
    """The proved backward pass to ``digits`` digits (raised until two runs agree), rounded.

    No row maximum is subtracted: mpmath's exponent range is unbounded, so e^(1e4)
    is an ordinary number, and each exponential is correct to the working precision.
    What costs digits is rowsum(dP * P): a row whose weights span e^-spread loses
    about spread / ln 10 digits to cancellation, so the first run has that many
    more; the precision doubles until two runs agree to ``digits`` digits in each
    gradient, relative to its largest entry or to the size of the terms summed,
    whichever is larger (a gradient whose exact value is 0 converges absolutely).
    """
    spread = float(np.max(np.ptp(Q @ np.swapaxes(K, -1, -2), axis=-1))) / np.sqrt(Q.shape[-1])
    scales = _term_scales(Q, K, V, dO)
    dps = digits + 20 + int(spread * 0.4343)
    previous, last = None, 4 * dps
    while dps <= last:
        with mpmath.workdps(dps):
            current = _mpmath_backward(Q, K, V, dO, causal)
            if previous is not None and all(
                _agree(c, p, t, digits) for c, p, t in zip(current, previous, scales)
            ):
                return tuple(c.astype(np.float64) for c in current)
        previous = current
        dps *= 2
    raise ArithmeticError(f"no {digits}-digit value of the backward pass for {Q, K, V, dO}")


def _agree(a: np.ndarray, b: np.ndarray, terms: float, digits: int) -> bool:
    """max |a - b| <= 10^-digits max(max |a|, terms)."""
    gap = max((abs(x - y) for x, y in zip(a.ravel(), b.ravel())), default=0)
    top = max((abs(x) for x in a.ravel()), default=0)
    return bool(gap <= max(top, mpmath.mpf(terms)) * mpmath.mpf(10) ** (-digits))


def complex_step_gradients(Q, K, V, dO, causal: bool) -> tuple[np.ndarray, ...]:
    """d/dx sum(dO * attention(...)) for every entry x of Q, K, V, by the complex step.

    One call per batch entry and argument: the n perturbed copies of that
    entry's matrix ride on a new leading axis, which attention accepts.
    """
    h = H
    lead = Q.shape[:-2]
    flat = [a.reshape(-1, *a.shape[-2:]) for a in (Q, K, V, dO)]
    grads = [np.empty_like(a) for a in flat[:3]]
    for b in range(flat[0].shape[0]):
        mats = [a[b] for a in flat[:3]]
        g = flat[3][b]
        for which, x in enumerate(mats):
            n = x.size
            batched = [np.broadcast_to(m, (n, *m.shape)) for m in mats]
            batched[which] = x[None] + (1j * h * np.eye(n)).reshape(n, *x.shape)
            f = np.sum(g * attention(*batched, causal=causal), axis=(1, 2))
            grads[which][b] = f.imag.reshape(x.shape) / h
    return tuple(gr.reshape(*lead, *gr.shape[-2:]) for gr in grads)


def _term_scales(Q, K, V, dO) -> tuple[float, float, float]:
    """The size of the terms summed in each gradient (Frobenius norms).

    dQ and dK are sums of products bounded by |dO| |V| |K or Q| / sqrt(d_k), dV of |dO|.
    """
    n = _norm
    r = 1 / np.sqrt(Q.shape[-1])
    g = n(dO) * n(V)
    return g * n(K) * r, g * n(Q) * r, n(dO)


def _norm(x: np.ndarray) -> float:
    """The Frobenius norm, without underflow for tiny entries (hypothesis draws 1e-183)."""
    top = float(np.max(np.abs(x), initial=0.0))
    return top * float(np.linalg.norm(x / top)) if top > 0 else 0.0


def _rounding_floor(Q, K, V, dO) -> tuple[float, ...]:
    """The size of the rounding error in each gradient, as an absolute allowance.

    eps times the terms that are summed; and below the normal range (entries
    drawn as small as 1e-300) floats keep an absolute precision of 2^-1074
    only, which the multipliers (up to |dO| |V|) carry into the gradient.
    The factor 64 counts the roundings along a gradient entry's longest chain:
    sums of d terms (scores, dO V^T) and of S terms (the softmax's normaliser,
    the row sums of P * dP, the products with K, Q or P^T), d + 3 S + d <= 64 for
    S <= 16 and d <= 8 (``problems``), each at most eps of the terms' magnitudes
    (Higham's gamma_n per sum) or 2^-1074 absolute below the normal range.
    """
    under = 64 * SUBNORMAL * (1 + _norm(dO) * _norm(V))
    return tuple(64 * EPS * t + under for t in _term_scales(Q, K, V, dO))


def _complex_step_floor(Q, K, V, dO) -> tuple[float, ...]:
    """The complex step's own error, as an absolute allowance for each gradient.

    Its rounding grows like eps * |shift| relative (the keys' common shift, up
    to 1e4, moves each score by up to 1e4 * |q|); and its imaginary parts, h
    times a derivative, keep only the absolute precision 2^-1074 below the
    normal range, which is 2^-1074 / h once divided by h.
    """
    under = 64 * SUBNORMAL / H * (1 + _norm(dO) * _norm(V))
    return tuple(f * (1 + abs(K).max() ** 2) + under for f in _rounding_floor(Q, K, V, dO))


@st.composite
def problems(draw: Any, max_side: int = 16, max_d: int = 8) -> tuple[Any, ...]:
    """Q, K, V, dO, causal: batch up to 3 (up to two leading axes), T, S <= 16, d <= 8.

    Scores range widely: a common component c u of every key (c up to 1e4)
    shifts each query's scores by up to about 1e4 without changing the
    weights; the rest of the scores stays within about +-11 so that the
    complex step, whose own error grows like eps / (1 - largest weight),
    stays accurate to far better than the bar.
    """
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    causal = draw(st.booleans())
    T = draw(st.integers(1, max_side))
    S = T if causal else draw(st.integers(1, max_side))
    dk, dv = draw(st.integers(1, max_d)), draw(st.integers(1, max_d))
    scale = 10 ** draw(st.floats(-3, np.log10(2)))
    Q = scale * draw(finite_arrays((*lead, T, dk), low=-1, high=1))
    K = draw(finite_arrays((*lead, S, dk), low=-1, high=1))
    u = draw(finite_arrays((dk,), low=-1, high=1))
    c = draw(st.sampled_from([0.0, 1.0, 1e2, 1e4])) * draw(st.sampled_from([-1.0, 1.0]))
    K = K + c * u
    V = draw(finite_arrays((*lead, S, dv), low=-10, high=10, log_scale=True))
    dO = draw(finite_arrays((*lead, T, dv), low=-10, high=10, log_scale=True))
    return Q, K, V, dO, causal


def _assert_close(got: np.ndarray, want: np.ndarray, floor: float, what: str) -> None:
    err = _norm(got - want)
    assert err <= BAR * _norm(want) + floor, (
        f"{what}: |error| {err:.3g}, |reference| {_norm(want):.3g}, floor {floor:.3g}"
    )


@given(problems())
def test_three_sources_agree(problem: tuple[Any, ...]) -> None:
    Q, K, V, dO, causal = problem
    implemented = attention_backward(Q, K, V, dO, causal=causal)
    symbolic = symbolic_gradients(Q, K, V, dO, causal)
    stepped = complex_step_gradients(Q, K, V, dO, causal)
    floors = zip(_rounding_floor(Q, K, V, dO), _complex_step_floor(Q, K, V, dO))
    for name, got, ref, cs, (floor, cs_floor) in zip(
        ("dQ", "dK", "dV"), implemented, symbolic, stepped, floors
    ):
        _assert_close(got, ref, floor, f"{name}: implementation vs symbolic")
        _assert_close(cs, ref, cs_floor, f"{name}: complex step vs symbolic")


def _symbolic_at_the_derivations_shape(causal: bool) -> list[sp.ImmutableMatrix]:
    """The matrix form evaluated on the derivations' symbol matrices (T = 3, d_k = d_v = 2)."""
    T, dk = sym.Q.shape
    S, dv = sym.V.shape
    env = {MQ: sym.Q, MK: sym.K, MV: sym.V, MG: sym.G}
    env = {m: np.array(x.tolist(), dtype=object) for m, x in env.items()}
    env[MM] = _mask(T, S, causal, -sp.oo)
    values = evaluate(
        backward_matrix_form(),
        env,
        {_T: T, _S: S, _DK: dk, _DV: dv},
        scalar=lambda x: x,
        elementwise=lambda f: f,
    )
    return [sp.ImmutableMatrix(v.tolist()) for v in values]


@pytest.mark.parametrize("causal", [False, True])
def test_the_symbolic_source_is_the_proved_result(causal: bool) -> None:
    # The reference of test_three_sources_agree, evaluated on symbols, is each backward
    # derivation's result: if a derivation's result changes, this fails.
    prefix = "masked-" if causal else ""
    values = _symbolic_at_the_derivations_shape(causal)
    for name, value in zip(("dq", "dk", "dv"), values):
        proved = derivations.get(f"{prefix}attention-backward-{name}").result
        verdict = check_equal(value, proved, budget_s=60.0)
        assert verdict.status == "proved", (name, causal, str(verdict))


def test_gradcheck_of_the_forward_function() -> None:
    rng = np.random.default_rng(3)
    Q, K, V, dO = (rng.standard_normal(s) for s in ((2, 4, 3), (2, 5, 3), (2, 5, 2), (2, 4, 2)))
    for which in range(3):
        args = [Q, K, V]

        def f(x: np.ndarray, which: int = which, args: list = args) -> Any:
            a = list(args)
            a[which] = x
            return np.sum(dO * attention(*a))

        grad = attention_backward(Q, K, V, dO)[which]
        numeric.assert_gradient(f, grad, args[which])


# ----- huge scores, saturated rows -------


@pytest.mark.parametrize("causal", [False, True])
def test_scores_up_to_1e4_are_stable_and_accurate(causal: bool) -> None:
    rng = np.random.default_rng(0)
    T, d = 4, 2
    Q = rng.standard_normal((T, d)) * 70
    K = rng.standard_normal((T, d)) * 70
    V, dO = rng.standard_normal((T, 2)), rng.standard_normal((T, 2))
    S = Q @ K.T / np.sqrt(d)
    assert np.abs(S).max() > 5e3  # the regime the test is about
    out = attention(Q, K, V, causal=causal)
    grads = attention_backward(Q, K, V, dO, causal=causal)
    assert np.all(np.isfinite(out)) and all(np.all(np.isfinite(g)) for g in grads)
    # Against the proved formulas at 50 digits (the working precision is raised to
    # cover the e^-1e4 weights): relative error per gradient.
    ref = symbolic_gradients(Q, K, V, dO, causal)
    for got, want in zip(grads, ref):
        err = _norm(got - want)
        assert err <= BAR * _norm(want), (err, _norm(want))


def test_rows_sum_to_one_at_any_score_scale() -> None:
    rng = np.random.default_rng(1)
    for scale in (1e-8, 1.0, 1e4, 1e8):
        Q, K = rng.standard_normal((5, 3)) * scale, rng.standard_normal((6, 3))
        # With V = identity columns, attention returns the weights themselves.
        P = attention(Q, K, np.eye(6))
        assert np.all(P >= 0)
        np.testing.assert_allclose(P.sum(axis=-1), 1.0, rtol=8 * EPS)


# ----- the mask -------


def test_causal_output_ignores_later_tokens() -> None:
    rng = np.random.default_rng(2)
    Q, K, V = (rng.standard_normal((5, 3)) for _ in range(3))
    out = attention(Q, K, V, causal=True)
    K2, V2 = K.copy(), V.copy()
    K2[3:] += 100.0
    V2[3:] -= 50.0
    # Rows 0..2 see keys 0..2 only: exactly the same numbers.
    np.testing.assert_array_equal(attention(Q, K2, V2, causal=True)[:3], out[:3])


def test_no_gradient_reaches_masked_keys_or_values() -> None:
    rng = np.random.default_rng(4)
    Q, K, V = (rng.standard_normal((2, 6, 3)) for _ in range(3))
    dO = np.zeros((2, 6, 3))
    dO[:, :2] = rng.standard_normal((2, 2, 3))  # only queries 0 and 1 carry a gradient
    dQ, dK, dV = attention_backward(Q, K, V, dO, causal=True)
    assert np.all(dK[:, 2:] == 0) and np.all(dV[:, 2:] == 0)
    assert np.all(dQ[:, 2:] == 0)


def test_the_first_query_attends_only_to_itself() -> None:
    rng = np.random.default_rng(5)
    Q, K, V = (rng.standard_normal((4, 2)) for _ in range(3))
    np.testing.assert_array_equal(attention(Q, K, V, causal=True)[0], V[0])


# ----- shapes, dtypes, bad input -------


def test_any_leading_axes_match_a_loop() -> None:
    rng = np.random.default_rng(6)
    Q, K, V, dO = (rng.standard_normal((2, 3, 4, 5)) for _ in range(4))
    out = attention_backward(Q, K, V, dO)
    for i in range(2):
        for j in range(3):
            one = attention_backward(Q[i, j], K[i, j], V[i, j], dO[i, j])
            for a, b in zip(out, one):
                np.testing.assert_array_equal(a[i, j], b)


def test_float32_in_float32_out() -> None:
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal((3, 4)).astype(np.float32) for _ in range(4)]
    assert attention(*arrays[:3]).dtype == np.float32
    grads32 = attention_backward(*arrays)
    grads64 = attention_backward(*[a.astype(np.float64) for a in arrays])
    for g32, g64 in zip(grads32, grads64):
        assert g32.dtype == np.float32
        # float32 rounding: a few hundred eps_32 of the gradient's scale.
        np.testing.assert_allclose(g32, g64, atol=1e-4 * np.abs(g64).max(), rtol=0)


def test_nan_in_nan_out() -> None:
    Q = np.array([[np.nan, 1.0]])
    out = attention(Q, np.ones((2, 2)), np.ones((2, 2)))
    assert np.all(np.isnan(out))


@pytest.mark.parametrize(
    ("shapes", "causal", "words"),
    [
        (((3, 4), (5, 3), (5, 2)), False, ["Q", "K", "d_k", "(3, 4)", "(5, 3)"]),
        (((3, 4), (5, 4), (6, 2)), False, ["K", "V", "(5, 4)", "(6, 2)"]),
        (((2, 3, 4), (3, 5, 4), (3, 5, 2)), False, ["leading", "(2, 3, 4)", "(3, 5, 4)"]),
        (((3, 4), (5, 4), (5, 2)), True, ["causal", "T == S", "(3, 4)", "(5, 4)"]),
        (((4,), (5, 4), (5, 2)), False, ["Q", "at least 2 axes", "(4,)"]),
        (((3, 0), (5, 0), (5, 2)), False, ["d_k", "(3, 0)"]),
        (((3, 4), (0, 4), (0, 2)), False, ["key", "(0, 4)"]),
    ],
)
def test_mismatched_shapes_are_named(shapes, causal: bool, words: list[str]) -> None:
    arrays = [np.ones(s) for s in shapes]
    with pytest.raises(ValueError) as info:
        attention(*arrays, causal=causal)
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_backward_checks_the_shape_of_dO() -> None:
    with pytest.raises(ValueError, match=r"dO.*\(3, 2\).*\(3, 4\)"):
        attention_backward(np.ones((3, 4)), np.ones((5, 4)), np.ones((5, 2)), np.ones((3, 4)))


def test_non_numbers_are_type_errors() -> None:
    with pytest.raises(TypeError, match="K"):
        attention(np.ones((2, 2)), np.array([["a", "b"]]), np.ones((1, 2)))
    with pytest.raises(TypeError, match="causal"):
        attention(np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2)), causal="yes")


# ----- PyTorch, when installed -------


@pytest.mark.parametrize("causal", [False, True])
def test_matches_torch_autograd(causal: bool) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    Q, K, V, dO = (rng.standard_normal((2, 3, 7, 5)) for _ in range(4))
    leaves = [torch.tensor(a, requires_grad=True) for a in (Q, K, V)]
    out = torch.nn.functional.scaled_dot_product_attention(*leaves, is_causal=causal)
    out.backward(torch.tensor(dO))
    np.testing.assert_allclose(attention(Q, K, V, causal=causal), out.detach().numpy(), atol=1e-13)
    for ours, leaf in zip(attention_backward(Q, K, V, dO, causal=causal), leaves):
        # Two float64 computations of the same sums: a few eps of the entries' scale.
        np.testing.assert_allclose(ours, leaf.grad.numpy(), atol=1e-13, rtol=0)


# ----- the bar's figure -------


def measure_three_sources(examples: int) -> dict[str, Any]:
    """The bar's figures over ``examples`` problems, drawn derandomized as the ci profile
    draws them, against the symbolic source:

    * the worst normwise relative error of each source, over the gradients at
      least CONDITIONED times the size of their terms (relative error is what
      the bar asks; rounding of the terms is eps relative to them, so a
      gradient far smaller than its terms, zero included, has none to offer);
    * over all gradients, the worst error as a fraction of the test's
      allowance (1e-10 relative plus the floor): below 1 means the test passes.
    """
    import time

    sources = ("implementation", "complex step")
    worst = dict.fromkeys(sources, 0.0)
    used = dict.fromkeys(sources, 0.0)
    seen = {"examples": 0, "causal": 0, "largest T x S": 0, "gradients": 0, "conditioned": 0}

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(problems())
    def run(problem: tuple[Any, ...]) -> None:
        Q, K, V, dO, causal = problem
        ref = symbolic_gradients(Q, K, V, dO, causal)
        got = {
            "implementation": attention_backward(Q, K, V, dO, causal=causal),
            "complex step": complex_step_gradients(Q, K, V, dO, causal),
        }
        floors = {
            "implementation": _rounding_floor(Q, K, V, dO),
            "complex step": _complex_step_floor(Q, K, V, dO),
        }
        seen["examples"] += 1
        seen["causal"] += int(causal)
        seen["largest T x S"] = max(seen["largest T x S"], Q.shape[-2] * K.shape[-2])
        for i, (r, terms) in enumerate(zip(ref, _term_scales(Q, K, V, dO))):
            seen["gradients"] += 1
            conditioned = _norm(r) > 0 and _norm(r) >= CONDITIONED * terms
            seen["conditioned"] += int(conditioned)
            for source in sources:
                err = _norm(got[source][i] - r)
                used[source] = max(used[source], float(err / (BAR * _norm(r) + floors[source][i])))
                if conditioned:
                    worst[source] = max(worst[source], err / _norm(r))

    start = time.perf_counter()
    run()
    return {
        **seen,
        f"worst relative error, gradients >= {CONDITIONED:g} x their terms": worst,
        "worst error / allowance, all gradients": used,
        "seconds": round(time.perf_counter() - start, 1),
    }


CONDITIONED = 1e-5


if __name__ == "__main__":  # python -m tests.test_attention [examples]
    import json
    import sys

    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print(json.dumps(measure_three_sources(examples), indent=1))
