# ruff: noqa: E501  (a title is the first line of its docstring: one line of LaTeX)
r"""Attention: the forward pass, why $\sqrt{d_k}$, the causal mask, the backward pass.

Notes, "Attention": $\operatorname{Attention}(Q, K, V) = \operatorname{softmax}(QK^T /
\sqrt{d_k}) V$, the softmax taken for each query over the keys; masking sets the
scores of later tokens to $-\infty$ "such that they become 0"; the residual
update $\bar E_i' = \bar E_i + \Delta \bar E_i$.  Notes, "Embedding": the sign of a
dot product follows the angle; the skip-gram model of Word2Vec.

Matrices are explicit and small (queries, keys and values as rows): $T = 3$
tokens, $d_k = d_v = 2$.  The backward pass is proved against direct
differentiation of $L = \sum_{ij} G_{ij} O_{ij}$, where $G = \partial L / \partial O$
is a matrix of free symbols: any loss reaches the attention output only through
$O$, so $G$ stands for all of them.  numeric.attention_backward implements the
result.
"""

from __future__ import annotations

from functools import cache

import sympy as sp
from sympy import stats

from derivations.core import Derivation, Step
from derivations.notation import shown, shown_matrix, symbol_matrix
from derivations.registry import derivation

TOPIC = "attention"

T, D = 3, 2  # tokens; d_k = d_v


def causal_allowed(i: int, j: int) -> bool:
    """Query i may attend to key j (0-based): j <= i."""
    return j <= i


def softmax_rows(S: sp.MatrixBase, causal: bool = False) -> sp.ImmutableMatrix:
    r"""Row-wise softmax; with ``causal`` the scores above the diagonal are $-\infty$ first."""
    rows = []
    for i in range(S.rows):
        scores = [S[i, j] if not causal or causal_allowed(i, j) else -sp.oo for j in range(S.cols)]
        total = sp.Add(*[sp.exp(s) for s in scores])
        rows.append([sp.exp(s) / total for s in scores])
    return sp.ImmutableMatrix(rows)


def scores(Q: sp.MatrixBase, K: sp.MatrixBase) -> sp.ImmutableMatrix:
    r"""$S = Q K^T / \sqrt{d_k}$."""
    return sp.ImmutableMatrix(Q * K.T / sp.sqrt(Q.cols))


def softmax_backward(P: sp.MatrixBase, dP: sp.MatrixBase) -> sp.ImmutableMatrix:
    r"""$dS = P \circ (dP - \operatorname{rowsum}(dP \circ P))$."""
    return sp.ImmutableMatrix(
        P.rows,
        P.cols,
        lambda i, j: P[i, j] * (dP[i, j] - sum(dP[i, k] * P[i, k] for k in range(P.cols))),
    )


def backward_formulas(
    Q: sp.MatrixBase, K: sp.MatrixBase, V: sp.MatrixBase, G: sp.MatrixBase, causal: bool
) -> dict[str, sp.ImmutableMatrix]:
    """dQ, dK, dV (and P, dP, dS) by the formulas of the notes' backward pass."""
    root = sp.sqrt(Q.cols)
    P = softmax_rows(scores(Q, K), causal)
    dP = sp.ImmutableMatrix(G * V.T)
    dS = softmax_backward(P, dP)
    return {
        "P": P,
        "dP": dP,
        "dS": dS,
        "dV": sp.ImmutableMatrix(P.T * G),
        "dQ": sp.ImmutableMatrix(dS * K / root),
        "dK": sp.ImmutableMatrix(dS.T * Q / root),
    }


Q = symbol_matrix("q", T, D)
K = symbol_matrix("k", T, D)
V = symbol_matrix("v", T, D)
G = symbol_matrix("g", T, D)  # dL/dO


@cache
def _loss(causal: bool) -> sp.Expr:
    """L = sum_ij G_ij O_ij, out = softmax(Q K^T / sqrt(d_k)) V."""
    out = softmax_rows(scores(Q, K), causal) * V
    return sp.Add(*[G[i, j] * out[i, j] for i in range(T) for j in range(D)])


def _direct(wrt: sp.MatrixBase, causal: bool) -> sp.ImmutableMatrix:
    L = shown(_loss(causal), "L")
    return sp.ImmutableMatrix(
        wrt.rows, wrt.cols, lambda i, j: sp.Derivative(L, wrt[i, j], evaluate=False)
    )


# ----- forward -------


@derivation
def attention_forward() -> Derivation:
    r"""Attention, entry by entry: $O_{ic} = \sum_j P_{ij} v_{jc}$, $P_{ij} = e^{s_{ij}} / \sum_l e^{s_{il}}$

    Here $s_{ij} = q_i \cdot k_j / \sqrt{d_k}$.
    The softmax runs over the keys $j$ for each query $i$ (a row of the score
    matrix): query $i$'s output is an average of the value rows, weighted by how
    well $q_i$ matches each key.  (The notes say "at each column, or query":
    with queries as rows, as here and in numeric.attention, a query is a row.)
    """
    S = scores(Q, K)
    P = softmax_rows(S)
    entries = sp.ImmutableMatrix(
        T,
        D,
        lambda i, c: sp.Add(
            *[
                sp.exp(sum(Q[i, m] * K[j, m] for m in range(D)) / sp.sqrt(D))
                / sp.Add(
                    *[
                        sp.exp(sum(Q[i, m] * K[m2, m] for m in range(D)) / sp.sqrt(D))
                        for m2 in range(T)
                    ]
                )
                * V[j, c]
                for j in range(T)
            ]
        ),
    )
    return Derivation(
        quantity=shown_matrix(P * V, r"\operatorname{softmax}(Q K^T / \sqrt{d_k}) V"),
        steps=[
            Step(
                shown_matrix(P * V, "P V"),
                r"$P = \operatorname{softmax}(S)$ row by row, $S = Q K^T / \sqrt{d_k}$",
            ),
            Step(
                entries,
                r"$S_{ij} = q_i \cdot k_j / \sqrt{d_k}$; $(PV)_{ic} = \sum_j P_{ij} v_{jc}$",
            ),
        ],
        implementation="numeric.attention",
    )


@derivation
def attention_weights_sum_to_one() -> Derivation:
    r"""Each query's attention weights sum to 1: $\sum_j P_{ij} = 1$

    So every output row is a weighted average of the value rows (with positive
    weights: attention-weights-positive).
    """
    P = softmax_rows(scores(Q, K))
    return Derivation(
        quantity=sp.ImmutableMatrix(
            T, 1, lambda i, _: shown(sum(P[i, :]), r"\sum_j P_{%d j}" % (i + 1))
        ),
        steps=[
            Step(
                sp.ImmutableMatrix(T, 1, lambda i, _: sum(P[i, :])),
                "definition of the softmax of row $i$",
            ),
            Step(sp.ones(T, 1), "one denominator: the numerators add up to it"),
        ],
    )


@derivation
def attention_weights_positive() -> Derivation:
    r"""Every attention weight is positive: $P_{ij} > 0$ (without a mask)

    A key never gets exactly zero weight from the softmax alone; only the mask
    (causal-mask-weights) makes a weight 0.
    """
    s1, s2, s3 = sp.symbols("s_1:4", real=True)
    p = sp.exp(s1) / (sp.exp(s1) + sp.exp(s2) + sp.exp(s3))
    return Derivation(
        quantity=sp.Gt(shown(p, "P_{i1}"), 0, evaluate=False),
        steps=[
            Step(sp.Gt(p, 0, evaluate=False), r"softmax of the row $(s_1, s_2, s_3)$"),
            Step(sp.true, "a quotient of positive exponentials"),
        ],
    )


# ----- why sqrt(d_k) -------

_Q2 = [stats.Normal(f"q_{i}", 0, 1) for i in (1, 2)]
_K2 = [stats.Normal(f"k_{i}", 0, 1) for i in (1, 2)]
_DOT2 = _Q2[0] * _K2[0] + _Q2[1] * _K2[1]


@derivation
def score_mean_zero() -> Derivation:
    r"""The mean of a score is 0: $E[q \cdot k] = 0$ for independent standard normal entries ($d_k = 2$)

    With sympy.stats: $q_i, k_i \sim N(0, 1)$, all independent.
    """
    E = stats.Expectation
    return Derivation(
        quantity=E(_DOT2),
        steps=[
            Step(E(_Q2[0] * _K2[0]) + E(_Q2[1] * _K2[1]), "linearity of expectation"),
            Step(
                E(_Q2[0]) * E(_K2[0]) + E(_Q2[1]) * E(_K2[1]),
                "independence: the expectation of a product is the product of expectations",
            ),
            Step(sp.S.Zero, "each entry has mean 0"),
        ],
    )


@derivation
def score_variance_explicit() -> Derivation:
    r"""The variance of a score is $d_k$: $\operatorname{Var}(q \cdot k) = 2$ for $d_k = 2$

    With sympy.stats, $q_i, k_i \sim N(0, 1)$ independent: the mean is 0
    (score-mean-zero), so the variance is $E[(q \cdot k)^2]$.  The cross terms
    $E[q_1 k_1 q_2 k_2]$ vanish; each square contributes $E[q_i^2] E[k_i^2] = 1$.
    """
    E = stats.Expectation
    (q1, q2), (k1, k2) = _Q2, _K2
    return Derivation(
        quantity=E(sp.expand(_DOT2**2)) - E(_DOT2) ** 2,
        steps=[
            Step(
                E(sp.expand(_DOT2**2)),
                r"$\operatorname{Var}(X) = E[X^2] - E[X]^2$ and $E[q \cdot k] = 0$",
            ),
            Step(
                E(q1**2) * E(k1**2) + E(q2**2) * E(k2**2) + 2 * E(q1) * E(k1) * E(q2) * E(k2),
                "expand the square; independence factors each term",
            ),
            Step(sp.Integer(2), r"$E[q_i^2] = E[k_i^2] = 1$, $E[q_i] = E[k_i] = 0$"),
        ],
    )


@derivation
def scaled_score_variance() -> Derivation:
    r"""Scaling by $\sqrt{d_k}$ fixes the variance: $\operatorname{Var}(q \cdot k / \sqrt{d_k}) = \sigma_q^2 \sigma_k^2$, 1 for unit variances

    For any $d_k$, by linearity.  With $\sigma_q^2, \sigma_k^2$ the variances of
    the entries (mean 0, all independent), the $d_k$ products $q_i k_i$ are
    independent with mean 0 and variance $\sigma_q^2 \sigma_k^2$ each
    (score-variance-explicit for $\sigma = 1$), so the variance of their sum
    is the sum of their variances, $d_k \sigma_q^2 \sigma_k^2$; dividing by
    $\sqrt{d_k}$ divides the variance by $d_k$, whatever $d_k$ is.  Without
    the scaling the scores grow like $\sqrt{d_k}$ and the softmax saturates.
    """
    d = sp.Symbol("d_k", integer=True, positive=True)
    i = sp.Symbol("i", integer=True, positive=True)
    sq, sk = sp.symbols(r"\sigma_q \sigma_k", positive=True)
    var_term = sq**2 * sk**2
    return Derivation(
        quantity=sp.Sum(var_term, (i, 1, d)) / sp.sqrt(d) ** 2,
        steps=[
            Step(
                sp.Sum(var_term, (i, 1, d)) / d,
                r"$\operatorname{Var}(X / c) = \operatorname{Var}(X) / c^2$ with $c = \sqrt{d_k}$",
            ),
            Step(sp.Mul(d, var_term, evaluate=False) / d, "a sum of $d_k$ equal terms"),
            Step(var_term, "cancel $d_k$"),
        ],
        domain={d: (1, 64)},
    )


# ----- the causal mask -------


@derivation
def causal_mask_weights() -> Derivation:
    r"""The causal mask gives later keys weight exactly 0: $e^{-\infty} = 0$

    Notes: the entries above the diagonal are set to $-\infty$ "before softmax
    such that they become 0".  Row $i$ keeps keys $j \le i$; the others vanish.
    """
    S = symbol_matrix("s", T, T)
    masked = sp.ImmutableMatrix(
        T,
        T,
        lambda i, j: sp.exp(S[i, j]) if causal_allowed(i, j) else sp.exp(-sp.oo, evaluate=False),
    )
    weights = sp.ImmutableMatrix(
        T,
        T,
        lambda i, j: (
            sp.exp(S[i, j]) / sp.Add(*[sp.exp(S[i, m]) for m in range(i + 1)])
            if causal_allowed(i, j)
            else 0
        ),
    )
    rows = [sp.Add(*[masked[i, m] for m in range(T)]) for i in range(T)]
    return Derivation(
        quantity=shown_matrix(softmax_rows(S, causal=True), r"\operatorname{softmax}(S + M)"),
        steps=[
            Step(
                sp.ImmutableMatrix(T, T, lambda i, j: masked[i, j] / rows[i]),
                r"softmax with $M_{ij} = -\infty$ for $j > i$, 0 otherwise",
            ),
            Step(weights, r"$e^{-\infty} = 0$"),
        ],
    )


@derivation
def causal_mask_rows_sum_to_one() -> Derivation:
    r"""With the mask, each query's remaining weights still sum to 1"""
    S = symbol_matrix("s", T, T)
    P = softmax_rows(S, causal=True)
    return Derivation(
        quantity=sp.ImmutableMatrix(
            T, 1, lambda i, _: shown(sum(P[i, :]), r"\sum_j P_{%d j}" % (i + 1))
        ),
        steps=[
            Step(
                sp.ImmutableMatrix(
                    T, 1, lambda i, _: sp.Add(*[P[i, j] for j in range(T) if causal_allowed(i, j)])
                ),
                "the masked weights are 0 (causal-mask-weights)",
            ),
            Step(sp.ones(T, 1), "the unmasked numerators add up to their common denominator"),
        ],
    )


@derivation
def causal_mask_blocks_gradient() -> Derivation:
    r"""No gradient reaches a masked key or value: $\partial O_i / \partial k_j = \partial O_i / \partial v_j = 0$ for $j > i$

    Query $i$'s output $O_i$ does not depend on the keys and values of later
    tokens at all, so the gradient of any loss of $O_i$ has no part in them.
    Shown for every pair $j > i$ with $T = 3$, $d_k = d_v = 2$: each entry of
    the matrix is one $\partial O_{ic} / \partial x$ for $x$ an entry of $k_j$
    or $v_j$.
    """
    out = softmax_rows(scores(Q, K), causal=True) * V
    pairs = [(i, j) for i in range(T) for j in range(T) if j > i]
    entries = []
    for i, j in pairs:
        for c in range(D):
            o = shown(out[i, c], "O_{%d%d}" % (i + 1, c + 1))
            for x in (*K[j, :], *V[j, :]):
                entries.append(sp.Derivative(o, x, evaluate=False))
    derivs = sp.ImmutableMatrix(len(entries), 1, entries)
    return Derivation(
        quantity=derivs,
        steps=[
            Step(
                sp.zeros(len(entries), 1),
                "$O_i$ has no $k_j$ or $v_j$ with $j > i$: their scores were replaced by $-\\infty$",
            ),
        ],
    )


# ----- the backward pass -------


@derivation
def softmax_backward_scores() -> Derivation:
    r"""Through a row softmax: $\partial L / \partial s_{ij} = P_{ij}(dP_{ij} - \sum_k dP_{ik} P_{ik})$

    $L = \sum_{ij} dP_{ij} P_{ij}$ with $dP$ free: the general loss through
    $P$, linearized.  With $\partial P_{ik}/\partial s_{ij} = P_{ik}(\delta_{jk} - P_{ij})$.
    Shown for one row of three scores; rows are independent.
    """
    s = symbol_matrix("s", 1, T)
    g = symbol_matrix("dP", 1, T)
    P = softmax_rows(s)
    L = shown(sum(g[0, k] * P[0, k] for k in range(T)), "L")
    jac = sp.ImmutableMatrix(
        1,
        T,
        lambda _, j: sum(g[0, k] * P[0, k] * (sp.KroneckerDelta(j, k) - P[0, j]) for k in range(T)),
    )
    return Derivation(
        quantity=sp.ImmutableMatrix(1, T, lambda _, j: sp.Derivative(L, s[0, j], evaluate=False)),
        steps=[
            Step(
                jac, r"$\partial P_k / \partial s_j = P_k (\delta_{jk} - P_j)$ (softmax Jacobian)"
            ),
            Step(softmax_backward(P, g), r"collect: $\sum_k dP_k P_k \delta_{jk} = dP_j P_j$"),
        ],
    )


def _backward(name: str, causal: bool) -> Derivation:
    wrt = {"dV": V, "dQ": Q, "dK": K}[name]
    f = backward_formulas(Q, K, V, G, causal)
    shown_as = {"dV": "P^T G", "dQ": r"dS\, K / \sqrt{d_k}", "dK": r"dS^T Q / \sqrt{d_k}"}[name]
    why = {
        "dV": r"$out = P V$ is linear in $V$: $\partial L / \partial V = P^T G$",
        "dQ": r"chain rule through $S = Q K^T / \sqrt{d_k}$: $\partial S_{ij} / \partial q_{ic} = k_{jc} / \sqrt{d_k}$",
        "dK": r"chain rule through $S$: $\partial S_{ij} / \partial k_{jc} = q_{ic} / \sqrt{d_k}$",
    }[name]
    steps = [Step(shown_matrix(f[name], shown_as), why)]
    if name != "dV":
        steps.append(
            Step(
                f[name],
                r"$dS = P \circ (dP - \operatorname{rowsum}(dP \circ P))$, $dP = G V^T$, "
                r"$P = \operatorname{softmax}(S)$ written out",
            )
        )
    return Derivation(
        quantity=_direct(wrt, causal),
        steps=steps,
        implementation="numeric.attention_backward",
        points=8,
        # Differentiating L (nine exponentials over three sums) takes SymPy one to two
        # seconds on an idle core, several times that on a loaded one: a generous cap.
        budget_s=40.0,
    )


@derivation
def attention_backward_dv() -> Derivation:
    r"""The value gradient $dV = P^T G$, by direct differentiation ($T = 3$, $d_k = d_v = 2$)"""
    return _backward("dV", causal=False)


@derivation
def attention_backward_dq() -> Derivation:
    r"""The query gradient $dQ = dS\,K / \sqrt{d_k}$, by direct differentiation

    $dS = P \circ (dP - \operatorname{rowsum}(dP \circ P))$ with $dP = G V^T$.
    """
    return _backward("dQ", causal=False)


@derivation
def attention_backward_dk() -> Derivation:
    r"""The key gradient $dK = dS^T Q / \sqrt{d_k}$, by direct differentiation"""
    return _backward("dK", causal=False)


@derivation
def masked_attention_backward_dv() -> Derivation:
    r"""With the causal mask the same $dV = P^T G$ holds, $P$ the masked weights"""
    return _backward("dV", causal=True)


@derivation
def masked_attention_backward_dq() -> Derivation:
    r"""With the causal mask the same $dQ = dS\,K / \sqrt{d_k}$ holds"""
    return _backward("dQ", causal=True)


@derivation
def masked_attention_backward_dk() -> Derivation:
    r"""With the causal mask the same $dK = dS^T Q / \sqrt{d_k}$ holds"""
    return _backward("dK", causal=True)


@derivation
def rowsum_shortcut() -> Derivation:
    r"""$\operatorname{rowsum}(dP \circ P) = \operatorname{rowsum}(G \circ O)$: the row sums in $dS$ need no $T \times T$ product

    $\sum_j dP_{ij} P_{ij} = \sum_j (\sum_c G_{ic} v_{jc}) P_{ij} = \sum_c G_{ic} O_{ic}$;
    numeric.attention_backward uses the right side.
    """
    P = softmax_rows(scores(Q, K))
    dP = G * V.T
    out = P * V
    return Derivation(
        quantity=sp.ImmutableMatrix(T, 1, lambda i, _: sum(dP[i, j] * P[i, j] for j in range(T))),
        steps=[
            Step(
                sp.ImmutableMatrix(
                    T,
                    1,
                    lambda i, _: sum(
                        G[i, c] * V[j, c] * P[i, j] for j in range(T) for c in range(D)
                    ),
                ),
                "$dP = G V^T$",
            ),
            Step(
                sp.ImmutableMatrix(T, 1, lambda i, _: sum(G[i, c] * out[i, c] for c in range(D))),
                "$out = P V$: sum over $j$ first",
            ),
        ],
    )


# ----- using the output -------


@derivation
def residual_update() -> Derivation:
    r"""The residual update $\bar E_i' = \bar E_i + \sum_j A_{ij} \bar V_j$ is $E' = E + A V$

    Notes: $\Delta \bar E_2 = \sum_j A_j \bar V_j$ and $\bar E_2 + \Delta \bar E_2 =
    \bar E_2'$, one token at a time.  With tokens as rows, the attention
    pattern $A$ ($T \times T$, row $i$ the weights of query $i$) and values as rows,
    all tokens at once are $E + A V$.  (The notes write $A_i = \bar K_i \bar Q_i$;
    the weights are the softmax of the scaled products, attention-forward.)
    """
    E = symbol_matrix("e", T, D)
    A = symbol_matrix("a", T, T)
    per_token = sp.ImmutableMatrix(
        T, D, lambda i, c: E[i, c] + sp.Add(*[A[i, j] * V[j, c] for j in range(T)])
    )
    return Derivation(
        quantity=per_token,
        steps=[Step(shown_matrix(E + A * V, "E + A V"), r"$(AV)_{ic} = \sum_j A_{ij} v_{jc}$")],
    )


@derivation
def dot_product_angle() -> Derivation:
    r"""A dot product is $|a||b| \cos\theta$: $a \cdot b = r_a r_b \cos(\alpha - \beta)$ in the plane

    $a = r_a(\cos\alpha, \sin\alpha)$, $b = r_b(\cos\beta, \sin\beta)$, $\theta = \alpha - \beta$
    the angle between them.
    """
    ra, rb = sp.symbols("r_a r_b", positive=True)
    al, be = sp.symbols(r"\alpha \beta", real=True)
    a = (ra * sp.cos(al), ra * sp.sin(al))
    b = (rb * sp.cos(be), rb * sp.sin(be))
    return Derivation(
        quantity=a[0] * b[0] + a[1] * b[1],
        steps=[
            Step(ra * rb * (sp.cos(al) * sp.cos(be) + sp.sin(al) * sp.sin(be)), "factor $r_a r_b$"),
            Step(
                ra * rb * sp.cos(al - be),
                r"$\cos(\alpha - \beta) = \cos\alpha\cos\beta + \sin\alpha\sin\beta$",
            ),
        ],
    )


def _angle_sign(op: type, name: str) -> Derivation:
    ra, rb = sp.symbols("r_a r_b", positive=True)
    c = sp.Symbol(r"\cos\theta", real=True)
    return Derivation(
        quantity=op(ra * rb * c, 0),
        steps=[Step(op(c, 0), f"divide by $|a||b| = r_a r_b > 0$: {name}")],
        domain={c: sp.Interval(-1, 1)},
    )


@derivation
def obtuse_angle_negative() -> Derivation:
    r"""$\theta > 90^\circ$ gives a negative dot product: $a \cdot b < 0 \iff \cos\theta < 0$

    Notes, "Embedding": $\theta > 90^\circ$: negative.  For nonzero vectors
    (dot-product-angle), the sign of $a \cdot b$ is the sign of $\cos\theta$,
    negative exactly for $90^\circ < \theta \le 180^\circ$.
    """
    return _angle_sign(
        sp.StrictLessThan, r"$\cos\theta < 0$ for $\theta \in (90^\circ, 180^\circ]$"
    )


@derivation
def right_angle_zero() -> Derivation:
    r"""$\theta = 90^\circ$ gives 0: $a \cdot b = 0 \iff \cos\theta = 0$"""
    return _angle_sign(sp.Eq, r"$\cos 90^\circ = 0$")


@derivation
def acute_angle_positive() -> Derivation:
    r"""$\theta < 90^\circ$ gives a positive dot product: $a \cdot b > 0 \iff \cos\theta > 0$"""
    return _angle_sign(sp.StrictGreaterThan, r"$\cos\theta > 0$ for $\theta \in [0, 90^\circ)$")


@derivation
def skip_gram_gradient() -> Derivation:
    r"""The skip-gram gradient: $\nabla_{v_c} [-\log \operatorname{softmax}(U v_c)_o] = \sum_w p_w u_w - u_o$

    Notes, "Embedding": Word2Vec's skip-gram model predicts a context word $o$
    from the centre word's embedding $v_c$; $U$ holds the context embeddings
    $u_w$ as rows and $p = \operatorname{softmax}(U v_c)$.  Shown with a vocabulary
    of 3 words, $d = 2$, context word $o = 1$.
    """
    U = symbol_matrix("u", 3, 2)
    v = symbol_matrix("v", 2, 1)
    z = U * v
    p = softmax_rows(z.T)
    loss = shown(-sp.log(p[0, 0]), r"-\log p_o")
    expected = sp.ImmutableMatrix(
        2, 1, lambda c, _: sum(p[0, w] * U[w, c] for w in range(3)) - U[0, c]
    )
    return Derivation(
        quantity=sp.ImmutableMatrix(
            2, 1, lambda c, _: sp.Derivative(loss, v[c, 0], evaluate=False)
        ),
        steps=[
            Step(
                sp.ImmutableMatrix(
                    2,
                    1,
                    lambda c, _: sum((p[0, w] - (1 if w == 0 else 0)) * U[w, c] for w in range(3)),
                ),
                r"cross-entropy through the softmax: $\partial / \partial z_w = p_w - [w = o]$, "
                r"then $\partial z_w / \partial v_c = u_w$",
            ),
            Step(expected, r"split off $-u_o$"),
        ],
    )
