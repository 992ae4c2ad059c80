"""The attention and transformer topics end to end.

1. every registered derivation of both topics verifies, each step "proved";
2. three sources agree on attention_backward: the proved formulas
   (derivations.attention.backward_formulas, the result of the
   attention-backward-* derivations) evaluated at 50 digits with mpmath, a
   complex-step derivative of the implemented forward function, and the
   implemented gradient, on hypothesis-drawn shapes and values;
3. the numeric edge cases: huge scores, the mask, bad input, dtypes;
4. the GPT-3 arithmetic, recomputed here from the dimensions.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import derivations
import numeric
from derivations import attention as sym
from derivations import transformer
from numeric.attention import attention, attention_backward
from numeric.testing import finite_arrays

EPS = np.finfo(np.float64).eps
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


def _matrices(T: int, S: int, dk: int, dv: int) -> tuple[sp.ImmutableMatrix, ...]:
    return (
        sym.symbol_matrix("q", T, dk),
        sym.symbol_matrix("k", S, dk),
        sym.symbol_matrix("v", S, dv),
        sym.symbol_matrix("g", T, dv),
    )


@cache
def _symbolic(T: int, S: int, dk: int, dv: int, causal: bool) -> Any:
    """The proved formulas for this shape, compiled to mpmath: (Q, K, V, dO) -> dQ, dK, dV."""
    mats = _matrices(T, S, dk, dv)
    f = sym.backward_formulas(*mats, causal)
    exprs = tuple(x for name in ("dQ", "dK", "dV") for x in f[name])
    args = tuple(x for m in mats for x in m)
    # Common subexpressions (each exponential, each row sum) computed once.
    return sp.lambdify(args, list(exprs), modules="mpmath", cse=True)


def symbolic_gradients(Q, K, V, dO, causal: bool) -> tuple[np.ndarray, ...]:
    """The proved formulas at 50 digits (the precision raised until two runs agree), rounded."""
    T, dk = Q.shape[-2:]
    S, dv = V.shape[-2:]
    fn = _symbolic(T, S, dk, dv, causal)
    lead = Q.shape[:-2]
    flat = [a.reshape(-1, *a.shape[-2:]) for a in (Q, K, V, dO)]
    out = []
    for b in range(flat[0].shape[0]):
        point = [float(x) for a in flat for x in a[b].ravel()]
        scores = flat[0][b] @ flat[1][b].T / np.sqrt(dk)
        spread = float(np.max(np.ptp(scores, axis=-1)))
        out.append(_converged(fn, point, spread))
    values = np.array(out, dtype=np.float64).reshape(-1)
    sizes = [T * dk, S * dk, S * dv]
    per = sum(sizes)
    values = values.reshape(-1, per)
    dq, dk_, dv_ = np.split(values, np.cumsum(sizes)[:-1], axis=1)
    return (
        dq.reshape(*lead, T, dk),
        dk_.reshape(*lead, S, dk),
        dv_.reshape(*lead, S, dv),
    )


def _converged(fn: Any, point: list[float], spread: float, digits: int = 50) -> list[float]:
    # A softmax row whose weights span e^-spread loses spread / ln 10 digits in
    # rowsum(dP * P): start above that, and double until two runs agree to `digits` digits.
    dps = digits + 20 + int(spread * 0.4343)
    previous = None
    while dps <= 20000:
        with mpmath.workdps(dps):
            current = [mpmath.mpf(v) for v in fn(*point)]
            # Normwise: an entry whose exact value is 0 converges to 0 in absolute terms only.
            scale = max(abs(c) for c in current)
            if previous is not None and all(
                abs(c - p) <= scale * mpmath.mpf(10) ** (-digits) for c, p in zip(current, previous)
            ):
                return [float(c) for c in current]
        previous = current
        dps *= 2
    raise ArithmeticError(f"no {digits}-digit value at {point}")


def complex_step_gradients(Q, K, V, dO, causal: bool) -> tuple[np.ndarray, ...]:
    """d/dx sum(dO * attention(...)) for every entry x of Q, K, V, by the complex step.

    One call per batch entry and argument: the n perturbed copies of that
    entry's matrix ride on a new leading axis, which attention accepts.
    """
    h = 1e-30
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


def _rounding_floor(Q, K, V, dO) -> tuple[float, float, float]:
    """The size of one rounding error in each gradient: eps times the terms that are summed.

    dQ and dK are sums of products bounded by |dO| |V| |K or Q| / sqrt(d_k), dV of |dO|.
    """
    n = np.linalg.norm
    r = 1 / np.sqrt(Q.shape[-1])
    g = n(dO) * n(V)
    return 64 * EPS * g * n(K) * r, 64 * EPS * g * n(Q) * r, 64 * EPS * n(dO)


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
    err = np.linalg.norm(got - want)
    assert err <= BAR * np.linalg.norm(want) + floor, (
        f"{what}: |error| {err:.3g}, |reference| {np.linalg.norm(want):.3g}, floor {floor:.3g}"
    )


@given(problems())
def test_implementation_agrees_with_complex_step(problem: tuple[Any, ...]) -> None:
    Q, K, V, dO, causal = problem
    implemented = attention_backward(Q, K, V, dO, causal=causal)
    stepped = complex_step_gradients(Q, K, V, dO, causal)
    # The complex step adds its own error, eps * |shift| relative (shifts up to 1e4 * |q|).
    floors = [f * (1 + abs(K).max() ** 2) for f in _rounding_floor(Q, K, V, dO)]
    for name, got, want, floor in zip(("dQ", "dK", "dV"), implemented, stepped, floors):
        _assert_close(got, want, floor, name)


# The symbolic source is compiled once per shape (about 0.2 s at 3 x 3, 19 s at 16 x 16
# with d = 8): shapes up to 3 x 3 and d <= 2 here; the complex step covers the rest.
@settings(max_examples=15)
@given(problems(max_side=3, max_d=2))
def test_three_sources_agree(problem: tuple[Any, ...]) -> None:
    Q, K, V, dO, causal = problem
    implemented = attention_backward(Q, K, V, dO, causal=causal)
    symbolic = symbolic_gradients(Q, K, V, dO, causal)
    stepped = complex_step_gradients(Q, K, V, dO, causal)
    floors = _rounding_floor(Q, K, V, dO)
    for name, got, ref, cs, floor in zip(
        ("dQ", "dK", "dV"), implemented, symbolic, stepped, floors
    ):
        _assert_close(got, ref, floor, f"{name}: implementation vs symbolic")
        _assert_close(cs, ref, floor * (1 + abs(K).max() ** 2), f"{name}: complex step vs symbolic")


def test_the_symbolic_source_is_the_proved_result() -> None:
    # backward_formulas at the derivation's shape is the derivation's last line.
    f = sym.backward_formulas(sym.Q, sym.K, sym.V, sym.G, False)
    assert f["dK"] == derivations.get("attention-backward-dk").result


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
        err = np.linalg.norm(got - want)
        assert err <= BAR * np.linalg.norm(want), (err, np.linalg.norm(want))


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
