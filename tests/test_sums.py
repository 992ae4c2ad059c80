"""derivations.sums: sums over symbolic index ranges, proved by rules that hold on the ranges.

Each rule is tested where it applies (a proof) and where its condition fails
(no proof, and the numeric stage refutes the claim with a counterexample).
"""

from __future__ import annotations

import random

import pytest
import sympy as sp

from derivations import Simplex, check_equal
from derivations.sampling import Domain
from derivations.sums import index_sums_vanish, within

K = sp.Symbol("K", integer=True, positive=True)
N = sp.Symbol("N", integer=True, positive=True)
i, j, k, m, n = sp.symbols("i j k m n", integer=True)
c = sp.Symbol("c", real=True)
z = sp.IndexedBase("z", real=True)
y = sp.IndexedBase("y", real=True)
S = sp.Sum(sp.exp(z[k]), (k, 1, K))
IJ = {i: (1, K), j: (1, K)}
BUDGET = 3.0


def s(a: sp.Expr) -> sp.Expr:
    return sp.exp(z[a]) / S


def proved(a, b=True, domain=None) -> None:
    v = check_equal(a, b, domain=domain or {}, budget_s=BUDGET)
    assert v.status == "proved", (str(v), v.detail)


def refuted(a, b=True, domain=None) -> None:
    v = check_equal(a, b, domain=domain or {}, budget_s=BUDGET)
    assert v.status == "refuted", (str(v), v.detail)


def test_softmax_jacobian_for_symbolic_k() -> None:
    proved(sp.Derivative(s(i), z[j]), s(i) * (sp.KroneckerDelta(i, j) - s(j)), IJ)
    refuted(sp.Derivative(s(i), z[j]), s(i) * (sp.KroneckerDelta(i, j) - s(i)), IJ)


def test_cross_entropy_gradient_uses_the_stated_sum_to_one() -> None:
    loss = -sp.Sum(y[k] * sp.log(s(k)), (k, 1, K))
    with_hypothesis = {j: (1, K), y: Simplex(size=K)}
    proved(sp.Derivative(loss, z[j]), s(j) - y[j], with_hypothesis)
    # Without it the claim is false (y need not sum to 1), and a point shows it.
    refuted(sp.Derivative(loss, z[j]), s(j) - y[j], {j: (1, K)})


def test_sum_of_a_delta_needs_the_index_in_range() -> None:
    claim = sp.Sum(sp.exp(z[k]) * sp.KroneckerDelta(k, j), (k, 1, K)) - sp.exp(z[j])
    assert index_sums_vanish(claim, Domain({j: (1, K)}))
    # j may be 0, outside 1..K: the sum is then 0, not exp(z[0]).
    assert not index_sums_vanish(claim, Domain({j: (0, K)}))
    refuted(claim, 0, {j: (0, K)})


def test_factors_free_of_the_index_leave_the_sum() -> None:
    proved(sp.Sum(c * sp.exp(z[i]) * y[k], (k, 1, K)), c * sp.exp(z[i]), {i: (1, K), y: Simplex(K)})
    proved(sp.Sum(sp.exp(z[k] - c), (k, 1, K)), sp.exp(-c) * S)


def test_sum_of_a_constant_counts_the_range() -> None:
    proved(sp.Sum(c, (k, 2, K)), (K - 1) * c, {K: (2, sp.oo)})
    proved(sp.Sum(sp.KroneckerDelta(k, j), (k, 1, K)), 1, {j: (1, K)})


def test_the_name_of_the_index_does_not_matter() -> None:
    proved(sp.log(sp.Sum(sp.exp(z[m]), (m, 1, K))) - sp.log(S), 0)


def test_deltas_of_free_indices_split_into_cases() -> None:
    proved(sp.KroneckerDelta(i, j) * s(i), sp.KroneckerDelta(i, j) * s(j), IJ)
    proved(sp.KroneckerDelta(i, j) ** 2, sp.KroneckerDelta(i, j), IJ)
    refuted(sp.KroneckerDelta(i, j) * s(i), s(j), IJ)


def test_rows_of_a_stacked_simplex_each_sum_to_one() -> None:
    Y = sp.IndexedBase("Y", real=True)
    per_row = sp.Sum(Y[n, k], (k, 1, K))
    proved(sp.Sum(per_row, (n, 1, N)), N, {Y: Simplex(size=K)})
    dom = Domain({Y: Simplex(size=2)})
    entries = [Y[1, 1], Y[1, 2], Y[2, 1], Y[2, 2]]
    v = dom.draw_reals(entries, random.Random(0), ints={})
    assert v[Y[1, 1]] + v[Y[1, 2]] == 1 and v[Y[2, 1]] + v[Y[2, 2]] == 1


def test_a_sum_exceeds_each_of_its_positive_terms_when_it_has_two() -> None:
    proved(sp.Lt(s(i), 1, evaluate=False), domain={i: (1, K), K: (2, sp.oo)})
    proved(sp.Le(s(i), 1, evaluate=False), domain={i: (1, K)})
    # For K = 1 the only component is exactly 1.
    refuted(sp.Lt(s(i), 1, evaluate=False), domain={i: (1, K)})


@pytest.mark.parametrize(
    ("x", "lo", "hi", "expected"),
    [(i, 1, K, True), (1, 1, K, True), (K, 1, K, True), (0, 1, K, False), (i, 2, K, False)],
)
def test_range_membership(x, lo, hi, expected) -> None:
    assert within(sp.sympify(x), sp.sympify(lo), sp.sympify(hi), {i: (1, K)}) is expected


def test_open_ended_ranges_are_sampled() -> None:
    dom = Domain({K: (2, sp.oo), i: (1, K)})
    for seed in range(20):
        v = dom.draw_integers([K, i], random.Random(seed))
        assert v[K] >= 2 and 1 <= v[i] <= v[K]


def test_renaming_indices_never_captures_a_variable() -> None:
    # sum_k sum_m a[k, m] and sum_k sum_m a[m, k] are different sums: their canonical
    # forms (and so their atoms) must differ, while renaming both indices changes nothing.
    a = sp.IndexedBase("a", real=True)
    p = sp.Symbol("p", integer=True)
    rows = sp.Sum(a[k, m], (m, 1, K), (k, 1, K))
    same = sp.Sum(a[p, n], (n, 1, K), (p, 1, K))
    assert index_sums_vanish(rows - same, Domain({}))
    inner = sp.Sum(sp.exp(a[k, m]) * sp.Sum(a[m, k], (k, 1, K)), (m, 1, K))
    assert not index_sums_vanish(
        inner - sp.Sum(sp.exp(a[k, m]) * sp.Sum(a[k, m], (k, 1, K)), (m, 1, K)), Domain({})
    )


def test_nested_and_multiplied_sums_merge_into_one() -> None:
    """Rule 11: the square of a sum is the double sum, the order of independent finite sums
    is free; neither holds where it should not (a sum of squares, a triangular range)."""
    a = sp.IndexedBase("a", real=True)
    x = sp.IndexedBase("x", real=True)
    square = sp.Sum(a[k], (k, 1, K)) ** 2
    proved(sp.Sum(a[k] * sp.Sum(a[m], (m, 1, K)), (k, 1, K)), square)
    proved(sp.Sum(a[k] * a[m], (k, 1, K), (m, 1, K)), square)
    refuted(sp.Sum(a[k] ** 2, (k, 1, K)), square)
    # sum_i f_i (sum_k a_k x_ik)^2 = sum_k sum_l a_k a_l sum_i f_i x_ik x_il (convexity's step)
    f = sp.exp(sp.Sum(x[i, j], (j, 1, K)))
    lhs = sp.Sum(f * sp.Sum(a[k] * x[i, k], (k, 1, K)) ** 2, (i, 1, N))
    rhs = sp.Sum(a[k] * a[m] * sp.Sum(f * x[i, k] * x[i, m], (i, 1, N)), (k, 1, K), (m, 1, K))
    proved(lhs, rhs)
    refuted(
        lhs, sp.Sum(a[k] * a[m] * sp.Sum(f * x[i, k] * x[i, k], (i, 1, N)), (k, 1, K), (m, 1, K))
    )
    # Independent ranges exchange; a range that names the outer index does not.
    grid = sp.Sum(sp.exp(x[i, k]), (k, 1, K), (i, 1, N))
    proved(grid, sp.Sum(sp.exp(x[i, k]), (i, 1, N), (k, 1, K)))
    triangle = sp.Sum(sp.exp(x[i, k]), (k, 1, i), (i, 1, N))
    refuted(triangle, sp.Sum(sp.exp(x[i, k]), (i, 1, N), (k, 1, N)))


def test_a_summand_with_nested_sums_keeps_no_placeholder() -> None:
    # Sums are held as atoms while a summand is normalized; a sum inside another one
    # belongs to it and must come back (a leaked placeholder would never match).
    from derivations.sums import _summand_normal_form

    a, b = sp.IndexedBase("a"), sp.IndexedBase("b")
    k, j, m, K = sp.symbols("k j m K", integer=True, positive=True)
    nested = a[k] * sp.Sum(b[k, j] * sp.Sum(a[m, j], (m, 1, K)), (j, 1, K))
    normal = _summand_normal_form(nested + nested)
    assert not normal.atoms(sp.Dummy)
    assert normal == 2 * nested
