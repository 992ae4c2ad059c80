"""The decision procedure: proofs, refutations with real counterexamples, budgets."""

from __future__ import annotations

import gc
import threading
import time

import mpmath
import pytest
import sympy as sp

from derivations import Simplex, Verdict, check_equal
from derivations.budget import BudgetExceeded
from derivations.core import DEFAULT_POINTS, Derivation, Step
from derivations.functions import expand_primitives, sigmoid, softplus

z = sp.Symbol("z", real=True)
x, y = sp.symbols("x y", real=True)
p = sp.Symbol("p", real=True)
s = sigmoid(z)

# Budgets end within a few milliseconds; allow scheduling noise on a shared machine.
OVERRUN_S = 0.3
# How long a process may wait for a core on the shared 2-core machines.
LOADED_MACHINE_WAIT_S = 3.0


def separates(verdict, a, b, digits: int = 50) -> bool:
    """The counterexample, substituted exactly and evaluated at 50 digits, separates a and b."""
    subs = {k: sp.nsimplify(v) for k, v in verdict.counterexample.items()}
    va = sp.N(expand_primitives(a).doit().subs(subs), digits)
    vb = sp.N(expand_primitives(b).doit().subs(subs), digits)
    return abs(va - vb) > sp.Float(10) ** (-digits + 10) * max(abs(va), abs(vb), 1e-300)


# ----- proofs -------------------------------------------------------------------------------


def test_proves_the_sigmoid_derivative_from_the_definition() -> None:
    v = check_equal(sp.Derivative(s, z), s * (1 - s))
    assert v.status == "proved"
    assert v.counterexample is None
    assert v.points > 0


def test_proof_does_not_trust_the_primitive_fdiff() -> None:
    """The quantity is differentiated from the elementary definition, not by fdiff."""

    class bad_sigmoid(sigmoid):
        def fdiff(self, argindex: int = 1) -> sp.Expr:
            return self**2

    v = check_equal(sp.Derivative(bad_sigmoid(z), z), bad_sigmoid(z) ** 2)
    assert v.status == "refuted"


def test_proves_equal_matrices_entrywise() -> None:
    a = sp.Matrix([[s, 1 - s], [softplus(z), 0]])
    b = sp.Matrix([[1 / (1 + sp.exp(-z)), sigmoid(-z)], [sp.log(1 + sp.exp(z)), 0]])
    assert check_equal(a, b).status == "proved"


def test_uses_domain_positivity_for_log_identities() -> None:
    a, b = sp.symbols("a b", real=True)
    claim = (sp.log(a * b), sp.log(a) + sp.log(b))
    assert check_equal(
        *claim, domain={a: sp.Interval.open(0, sp.oo), b: sp.Interval.open(0, sp.oo)}
    ).proved
    # Without the domain the identity is false (a = b = -1): refuted.
    v = check_equal(*claim)
    assert v.status == "refuted"


def test_proves_by_cases_over_a_finite_set() -> None:
    yhat = sp.Symbol("yhat", real=True)
    lab = sp.Symbol("y", real=True)
    bernoulli = yhat**lab * (1 - yhat) ** (1 - lab)
    two_cases = lab * yhat + (1 - lab) * (1 - yhat)
    dom = {lab: sp.FiniteSet(0, 1), yhat: sp.Interval.open(0, 1)}
    v = check_equal(bernoulli, two_cases, domain=dom)
    assert v.status == "proved"
    assert "cases" in v.method


def test_proves_over_a_bounded_interval_by_reparametrizing() -> None:
    # log(p / (1 - p)) = log p - log(1 - p) needs 0 < p < 1.
    v = check_equal(
        sp.log(p / (1 - p)), sp.log(p) - sp.log(1 - p), domain={p: sp.Interval.open(0, 1)}
    )
    assert v.status == "proved"


def test_chain_rule_with_undefined_functions() -> None:
    f, g = sp.Function("f"), sp.Function("g")
    lhs = sp.Derivative(f(g(x)), x)
    right = sp.Subs(sp.Derivative(f(y), y), y, g(x)) * sp.Derivative(g(x), x)
    assert check_equal(lhs, right).status == "proved"
    wrong = sp.Subs(sp.Derivative(f(y), y), y, g(x))
    v = check_equal(lhs, wrong)
    assert v.status == "refuted"
    assert "random" in v.detail


def test_symbolic_size_is_sampled_and_sums_expanded() -> None:
    K = sp.Symbol("K", integer=True, positive=True)
    k, i = sp.symbols("k i", integer=True)
    zz = sp.IndexedBase("z", real=True)
    total = sp.Sum(sp.exp(zz[k]), (k, 1, K))
    softmax_i = sp.exp(zz[i]) / total
    dom = {i: (1, K)}
    # d s_i / d z_i = s_i (1 - s_i), for every K and i.
    v = check_equal(sp.Derivative(softmax_i, zz[i]), softmax_i * (1 - softmax_i), domain=dom)
    assert v.status in ("proved", "numerically-consistent")
    assert v.points >= 3
    w = check_equal(sp.Derivative(softmax_i, zz[i]), softmax_i, domain=dom)
    assert w.status == "refuted"
    assert K in w.counterexample and i in w.counterexample
    assert 1 <= w.counterexample[i] <= w.counterexample[K]


def test_simplex_domains_sum_to_exactly_one() -> None:
    y1, y2, y3 = sp.symbols("y1:4", real=True)
    v = check_equal(y1 + y2 + y3, 1, domain={(y1, y2, y3): Simplex()})
    assert v.status == "proved"  # by substituting y3 = 1 - y1 - y2
    K = sp.Symbol("K", integer=True, positive=True)
    k = sp.Symbol("k", integer=True)
    q = sp.IndexedBase("q")
    w = check_equal(sp.Sum(q[k], (k, 1, K)), 1, domain={q: Simplex(size=K)})
    assert w.status in ("proved", "numerically-consistent")
    assert w.points >= 3


# ----- refutations ----------------------------------------------------------------------------


def test_refutes_a_wrong_derivative_quickly_with_a_real_counterexample() -> None:
    start = time.monotonic()
    a, b = sp.Derivative(s, z), s**2
    v = check_equal(a, b)
    assert time.monotonic() - start < 2.0
    assert v.status == "refuted"
    assert set(v.counterexample) == {z}
    assert separates(v, a, b)


def test_the_numeric_stage_differentiates_without_sympy(monkeypatch) -> None:
    """Derivatives are carried out on the evaluation tape (forward mode), so the points
    are evidence independent of SymPy's differentiation: with it disabled, a wrong
    derivative is still refuted and a right one agrees at every point (unproved)."""

    def no_differentiation(*args: object, **kwargs: object) -> None:
        raise NotImplementedError("SymPy's differentiation is off in this test")

    monkeypatch.setattr(sp.Derivative, "doit", no_differentiation)
    monkeypatch.setattr(sp.Expr, "diff", no_differentiation)
    softmax_0 = sp.exp(z) / (sp.exp(z) + sp.exp(p))
    wrong = check_equal(sp.Derivative(s, z), s**2)
    assert wrong.status == "refuted"
    right = check_equal(
        sp.Derivative(softmax_0, z, p),
        -softmax_0 * (1 - softmax_0) * (1 - 2 * softmax_0),
        budget_s=2.0,
    )
    assert right.status == "numerically-consistent"
    assert right.points == DEFAULT_POINTS  # every point evaluated, none skipped


def test_refutes_a_difference_far_below_double_precision() -> None:
    a = sp.exp(-(x**2))
    b = a + sp.Rational(1, 10**25)
    v = check_equal(a, b)
    assert v.status == "refuted"
    assert separates(v, a, b)


def test_refutes_a_wrong_matrix_entry_and_names_the_point() -> None:
    a = sp.Matrix([[s, 1 - s]])
    b = sp.Matrix([[s, s]])
    v = check_equal(a, b)
    assert v.status == "refuted"
    assert v.values is not None


def test_no_false_refutation_from_cancellation() -> None:
    # 1 - sigma(z) cancels badly in the tails; the precision rises until it is resolved.
    assert check_equal(1 - s, sigmoid(-z), domain={z: sp.Interval(20, 60)}).status == "proved"
    big = sp.exp(40 * x) - sp.exp(40 * x) * (1 - sp.exp(-100 * x**2))
    assert check_equal(big, sp.exp(40 * x - 100 * x**2)).status == "proved"


# ----- relations --------------------------------------------------------------------------------


def test_relation_that_holds_on_a_domain() -> None:
    v = check_equal(s >= sp.Rational(1, 2), domain={z: sp.Interval(0, sp.oo)})
    assert v.status == "proved"


def test_strict_relation_fails_exactly_at_the_boundary() -> None:
    v = check_equal(s > sp.Rational(1, 2), domain={z: sp.Interval(0, sp.oo)})
    assert v.status == "refuted"
    assert v.counterexample == {z: 0}


def test_relation_that_fails_off_its_domain() -> None:
    v = check_equal(s >= sp.Rational(1, 2))
    assert v.status == "refuted"
    assert v.counterexample[z] < 0


def test_equivalent_relations() -> None:
    assert check_equal(s >= sp.Rational(1, 2), z >= 0).status == "proved"
    v = check_equal(s >= sp.Rational(1, 2), z > 0)
    assert v.status == "refuted"
    assert v.counterexample == {z: 0}
    assert v.values == ("true", "false")


def test_eq_relation_reduces_to_equality() -> None:
    assert (
        check_equal(sp.Eq(sp.Derivative(s, z), s * sigmoid(-z), evaluate=False)).status == "proved"
    )


def test_inequality_by_sign_of_a_square() -> None:
    assert check_equal(sp.Derivative(s, z) <= sp.Rational(1, 4)).status == "proved"
    assert check_equal(sp.Derivative(s, z) <= sp.Rational(1, 5)).status == "refuted"


def test_sign_of_primitives_as_written() -> None:
    """sigma(x) sigma(-x) y^2 >= 0 from sigma > 0 alone, nothing expanded; a wrong bound fails."""
    v = check_equal(sp.Ge(sigmoid(x) * sigmoid(-x) * y**2, 0, evaluate=False))
    assert v.status == "proved"
    assert v.method.startswith("sign as written")
    wrong = check_equal(sp.Ge(sigmoid(x) * sigmoid(-x) * y**2, 1, evaluate=False))
    assert wrong.status == "refuted"


# ----- points before and after the proofs ---------------------------------------------------------


def test_a_proved_step_needs_only_the_first_points() -> None:
    from derivations.core import FIRST_POINTS

    v = check_equal(sp.Derivative(s, z), s * (1 - s), points=24)
    assert v.status == "proved"
    assert 0 < v.points <= FIRST_POINTS
    # Over a symbolic size the points come in 6 groups of 4 sizes: only the first before
    # the proofs.
    K = sp.Symbol("K", integer=True, positive=True)
    k = sp.Symbol("k", integer=True)
    w = sp.IndexedBase("w", real=True)
    total = sp.Sum(w[k] ** 2, (k, 1, K))
    sized = check_equal(sp.Derivative(total, w[1]), 2 * w[1], domain={K: (1, sp.oo)}, points=24)
    assert sized.status == "proved"
    assert 0 < sized.points <= 4


def test_a_step_without_proof_is_tested_at_every_point() -> None:
    # atan(x) + atan(1/x) = pi/2 for x > 0: true, and no strategy proves it.
    v = check_equal(
        sp.atan(x) + sp.atan(1 / x), sp.pi / 2, domain={x: sp.Interval.open(0, sp.oo)}, points=20
    )
    assert v.status == "numerically-consistent"
    assert v.points == 20


def test_a_claim_wrong_only_at_later_points_is_still_refuted() -> None:
    """min(K, 7) = K fails only for K >= 8, which only the later groups of points reach
    (the first groups draw small sizes): the points left after the proofs find it."""
    K = sp.Symbol("K", integer=True, positive=True)
    v = check_equal(sp.Min(K, 7), K, domain={K: (1, sp.oo)})
    assert v.status == "refuted"
    assert v.counterexample[K] >= 8
    assert v.points >= 8  # the first groups' points agreed; a later one did not


# ----- budgets and errors -----------------------------------------------------------------------

HARD = (sp.expand((x + y + 1) ** 60), (x + y + 1) ** 60)


@pytest.mark.parametrize("budget", [0.3, 1.0])
def test_never_runs_longer_than_its_budget(budget: float) -> None:
    # CPU time is the tight bound: on a loaded machine the process can wait for a
    # core past its deadline without computing; the wall-clock bound only catches
    # a check that blocks.  Garbage collections are not the check's to cut short: no
    # signal interrupts one (and the alarm waits out the gc callbacks), so their CPU
    # time is not counted.  Late in the full suite the heap is large: seen 0.44 s of
    # collections (42 of them) within a 0.3 s check, which then took 0.65 s of CPU.
    pauses: list[float] = []  # -start, +stop of each collection: their sum is the time in gc

    def collection(phase: str, info: dict[str, int]) -> None:
        pauses.append(time.process_time() * (1 if phase == "stop" else -1))

    gc.callbacks.insert(0, collection)
    try:
        start, cpu_start = time.monotonic(), time.process_time()
        v = check_equal(*HARD, budget_s=budget)
        cpu = time.process_time() - cpu_start
    finally:
        gc.callbacks.remove(collection)
    in_gc = sum(pauses)
    assert cpu - in_gc <= budget + OVERRUN_S, f"{cpu:.3f} s CPU, {in_gc:.3f} s of it in gc"
    assert time.monotonic() - start <= budget + LOADED_MACHINE_WAIT_S
    assert v.status != "refuted"


def test_budget_holds_off_the_main_thread() -> None:
    out: dict[str, object] = {}

    def run() -> None:
        start = time.monotonic()
        try:
            out["verdict"] = check_equal(*HARD, budget_s=0.5)
        except BaseException as exc:  # reported below, not lost with the thread
            out["error"] = exc
        out["elapsed"] = time.monotonic() - start

    t = threading.Thread(target=run)
    t.start()
    t.join(30)
    assert "error" not in out, f"check_equal raised off the main thread: {out['error']!r}"
    # The child process adds its start-up (fork) to the budget, at most CHILD_GRACE_S.
    assert out["elapsed"] <= 0.5 + 1.0 + OVERRUN_S
    assert out["verdict"].status != "refuted"


def test_a_timed_out_proof_says_so() -> None:
    v = check_equal(*HARD, budget_s=0.3, points=2)
    said = v.detail + " " + v.method
    assert "budget" in said or "no time left" in said or v.status == "proved"


def test_strings_are_refused_not_parsed() -> None:
    with pytest.raises(TypeError, match="string"):
        check_equal("__import__('os')", z)


def test_shape_mismatch_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"\(1, 2\).*\(2, 1\)"):
        check_equal(sp.Matrix([[z, z]]), sp.Matrix([z, z]))


def test_relation_against_expression_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="relation"):
        check_equal(z > 0, z)


def test_bad_domain_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="domain"):
        check_equal(z, z, domain={z: "positive"})


def test_bad_budget() -> None:
    with pytest.raises(ValueError, match="budget_s"):
        check_equal(z, z, budget_s=0)


def test_results_are_repeatable() -> None:
    a = check_equal(sp.Derivative(s, z), s**2, seed=3)
    b = check_equal(sp.Derivative(s, z), s**2, seed=3)
    assert a.counterexample == b.counterexample


# ----- derivations ------------------------------------------------------------------------------


def test_derivation_with_a_wrong_step_is_refuted_at_that_step() -> None:
    d = Derivation(
        quantity=sp.Derivative(s, z),
        steps=[
            Step(s * (1 - s), "the derivative"),
            Step(s * s, "a wrong step"),
            Step(s**2, "restated"),
        ],
        name="broken",
    )
    report = d.verify()
    assert [sv.verdict.status for sv in report.steps] == ["proved", "refuted", "proved"]
    assert report.status == "refuted"


def test_inequality_chain_gives_the_combined_relation() -> None:
    d = Derivation(
        quantity=sp.Derivative(s, z),
        steps=[
            Step(sp.Rational(1, 4) - (s - sp.Rational(1, 2)) ** 2, "complete the square"),
            Step(sp.Rational(1, 4), "a square is nonnegative", relation="<="),
        ],
    )
    assert d.relation == "<="
    assert d.verify().status == "proved"


def test_derivation_validation() -> None:
    with pytest.raises(ValueError, match="kebab"):
        Derivation(quantity=z, steps=[Step(z, "same")], name="Not Kebab")
    with pytest.raises(ValueError, match="no steps"):
        Derivation(quantity=z, steps=[])
    with pytest.raises(ValueError, match="justification"):
        Step(z, "  ")
    with pytest.raises(ValueError, match="mixes directions"):
        Derivation(quantity=z, steps=[Step(z + 1, "a", relation="<="), Step(z, "b", relation=">=")])


def test_mpmath_precision_is_left_as_found() -> None:
    before = mpmath.mp.dps
    check_equal(sp.Derivative(s, z), s**2)
    assert mpmath.mp.dps == before


def test_a_forked_check_that_cannot_report_is_undecided(monkeypatch: pytest.MonkeyPatch) -> None:
    from derivations import core

    def never_reports(fn: object, seconds: float) -> object:
        raise BudgetExceeded(seconds)

    monkeypatch.setattr(core, "run_with_budget", never_reports)
    out: dict[str, object] = {}
    t = threading.Thread(target=lambda: out.setdefault("v", check_equal(z, z, budget_s=0.5)))
    t.start()
    t.join(30)
    verdict = out["v"]
    assert isinstance(verdict, Verdict)
    assert verdict.status == "undecided"
    assert "budget" in verdict.method
