# ruff: noqa: E501  (a title is the first line of its docstring: one line of LaTeX)
r"""The transformer block around attention: projections, the MLP, the low-rank value map, GPT-3.

Notes, "Attention" ($Q = E W_Q$, $K = E W_K$, $V = E W_V$ with tokens as rows;
"we perform a low-rank factorization of $W_v$"), "Multilayer Perceptron"
(up-projection, ReLU, down-projection, plus bias) and "Large Language
Models" (GPT-3's 175B weights in 27,938 matrices, by category).

Gradients flow back from the attention block's own gradients $dQ$, $dK$, $dV$
(attention-backward-dq and friends), written here as free matrices $G_Q$,
$G_K$, $G_V$: the chain rule needs nothing else about them.
"""

from __future__ import annotations

from itertools import permutations

import sympy as sp
import sympy.combinatorics

from derivations.core import Derivation, Step
from derivations.functions import heaviside, relu
from derivations.notation import shown, shown_matrix, symbol_matrix
from derivations.registry import derivation

TOPIC = "transformer"

T, D_E, D_QK = 3, 2, 2

E = symbol_matrix("e", T, D_E)
W = {n: symbol_matrix(f"w^{n}", D_E, D_QK) for n in "QKV"}
G = {n: symbol_matrix(f"g^{n}", T, D_QK) for n in "QKV"}


def _frobenius(A: sp.MatrixBase, B: sp.MatrixBase) -> sp.Expr:
    """sum_ij A_ij B_ij."""
    return sp.Add(*[a * b for a, b in zip(A, B)])


def _projection_loss() -> sp.Expr:
    """L linearized at the projections: sum of G_n * (E W_n) over n = Q, K, V."""
    return sp.Add(*[_frobenius(G[n], E * W[n]) for n in "QKV"])


def _grad(L: sp.Expr, wrt: sp.MatrixBase) -> sp.ImmutableMatrix:
    return sp.ImmutableMatrix(
        wrt.rows, wrt.cols, lambda i, j: sp.Derivative(L, wrt[i, j], evaluate=False)
    )


@derivation
def projection_weight_gradients() -> Derivation:
    r"""Through the projections $Q = E W_Q$, $K = E W_K$, $V = E W_V$: $dW_Q = E^T dQ$, and alike

    The three blocks are stacked side by side.  $G_n = \partial L / \partial (E W_n)$
    are the attention gradients $dQ$, $dK$, $dV$.
    """
    L = shown(_projection_loss(), "L")
    direct = sp.ImmutableMatrix.hstack(*[_grad(L, W[n]) for n in "QKV"])
    formula = sp.ImmutableMatrix.hstack(*[shown_matrix(E.T * G[n], "E^T G_%s" % n) for n in "QKV"])
    return Derivation(
        quantity=direct,
        steps=[
            Step(
                formula,
                r"$(E W)_{tc} = \sum_a e_{ta} w_{ac}$, so $\partial L / \partial w_{ac} = \sum_t e_{ta} G_{tc}$",
            )
        ],
    )


@derivation
def embedding_gradient() -> Derivation:
    r"""The embeddings get the sum of three paths: $dE = dQ\,W_Q^T + dK\,W_K^T + dV\,W_V^T$

    $E$ feeds the queries, the keys and the values, so its gradient adds the
    three (the residual path $E' = E + \dots$ adds the incoming gradient as well).
    """
    L = shown(_projection_loss(), "L")
    return Derivation(
        quantity=_grad(L, E),
        steps=[
            Step(
                shown_matrix(
                    sum((G[n] * W[n].T for n in "QKV"), sp.zeros(T, D_E)), r"\sum_n G_n W_n^T"
                ),
                r"each path: $\partial / \partial e_{ta} \sum_{c} G_{tc} (E W)_{tc} = \sum_c G_{tc} w_{ac}$",
            )
        ],
    )


# ----- the MLP block -------

N = 3  # neurons

_e = symbol_matrix("x", D_E, 1)
_Wu = symbol_matrix("u", N, D_E)
_bu = symbol_matrix("b^u", N, 1)
_Wd = symbol_matrix("d", D_E, N)
_bd = symbol_matrix("b^d", D_E, 1)
_g = symbol_matrix("g", D_E, 1)


def _mlp(e: sp.MatrixBase) -> sp.ImmutableMatrix:
    pre = _Wu * e + _bu
    return sp.ImmutableMatrix(_Wd * pre.applyfunc(relu) + _bd)


@derivation
def mlp_forward() -> Derivation:
    r"""The MLP block: $\operatorname{out}_i = \sum_n d_{in} \max(0, \sum_a u_{na} x_a + b^u_n) + b^d_i$

    Notes: a matrix $W_\uparrow$ whose rows ask "does $\bar E$ point along $\bar R_n$?",
    a bias, a ReLU (one neuron per row), then $W_\downarrow$ whose columns $\bar C_n$ are
    added in proportion to each active neuron, plus a bias.  Here $d_{\text{embed}} = 2$,
    3 neurons.
    """
    per_entry = sp.ImmutableMatrix(
        D_E,
        1,
        lambda i, _: (
            sp.Add(
                *[
                    _Wd[i, n] * relu(sum(_Wu[n, a] * _e[a, 0] for a in range(D_E)) + _bu[n, 0])
                    for n in range(N)
                ]
            )
            + _bd[i, 0]
        ),
    )
    columns = sp.ImmutableMatrix(
        D_E,
        1,
        lambda i, _: (
            sp.Add(*[relu((_Wu[n, :] * _e)[0, 0] + _bu[n, 0]) * _Wd[i, n] for n in range(N)])
            + _bd[i, 0]
        ),
    )
    return Derivation(
        quantity=shown_matrix(
            _mlp(_e), r"W_\downarrow \operatorname{ReLU}(W_\uparrow x + b_\uparrow) + b_\downarrow"
        ),
        steps=[
            Step(per_entry, "matrix products written out"),
            Step(
                columns,
                r"the same sum read by columns: neuron $n$ adds $\max(0, \bar R_n \cdot x + b^u_n)\,\bar C_n$",
            ),
        ],
    )


@derivation
def mlp_gradients() -> Derivation:
    r"""The MLP's gradients: $dW_\downarrow = g\,h^T$, $db_\downarrow = g$, $\delta = (W_\downarrow^T g) \circ H(z)$, $dW_\uparrow = \delta x^T$, $db_\uparrow = \delta$, $dx = W_\uparrow^T \delta$

    $z = W_\uparrow x + b_\uparrow$, $h = \operatorname{ReLU}(z)$, $L = g \cdot \operatorname{out}$ with
    $g = \partial L / \partial \operatorname{out}$ free; $H$ is the Heaviside step, the
    derivative of ReLU away from 0 (at $z = 0$ ReLU has no derivative; the
    implementations take 0).  All six gradients are stacked into one column.
    """
    L = shown(_frobenius(_g, _mlp(_e)), "L")
    z = _Wu * _e + _bu
    h = z.applyfunc(relu)
    delta = sp.ImmutableMatrix(N, 1, lambda n, _: (_Wd.T * _g)[n, 0] * heaviside(z[n, 0]))
    parts = [_Wd, _bd, _Wu, _bu, _e]
    direct = sp.ImmutableMatrix.vstack(*[_grad(L, p).reshape(p.rows * p.cols, 1) for p in parts])
    formulas = [_g * h.T, _g, delta * _e.T, delta, _Wu.T * delta]
    formula = sp.ImmutableMatrix.vstack(
        *[sp.ImmutableMatrix(f).reshape(f.rows * f.cols, 1) for f in formulas]
    )
    return Derivation(
        quantity=direct,
        steps=[
            Step(
                formula,
                r"chain rule backwards through the down-projection, the ReLU "
                r"($\max(0, z)' = H(z)$) and the up-projection",
            )
        ],
    )


# ----- the low-rank value map -------


def leibniz_det(M: sp.MatrixBase) -> sp.Expr:
    """The determinant as the Leibniz sum over permutations, products left unexpanded."""
    n = M.rows
    terms = []
    for perm in permutations(range(n)):
        sign = sp.combinatorics.Permutation(list(perm)).signature()
        terms.append(sp.Mul(sign, *[M[i, perm[i]] for i in range(n)], evaluate=False))
    return sp.Add(*terms, evaluate=False)


@derivation
def low_rank_value_map() -> Derivation:
    r"""$W_V = W_\uparrow W_\downarrow$ has rank at most $d_{qk}$: every $(d_{qk}+1)$-minor vanishes

    Notes: $W_v$ is factored into a down-projection to the query/key space and
    an up-projection back.  A matrix has rank at most $r$ exactly when all its
    $(r+1) \times (r+1)$ minors are 0.  Shown for $d_{\text{embed}} = 3$ with
    $d_{qk} = 2$ (the determinant) and with $d_{qk} = 1$ (all nine $2 \times 2$ minors).
    """
    up2, down2 = symbol_matrix("a", 3, 2), symbol_matrix("b", 2, 3)
    up1, down1 = symbol_matrix("c", 3, 1), symbol_matrix("f", 1, 3)
    W2, W1 = up2 * down2, up1 * down1
    minors = [
        leibniz_det(W1.extract([r1, r2], [c1, c2]))
        for r1, r2 in ((0, 1), (0, 2), (1, 2))
        for c1, c2 in ((0, 1), (0, 2), (1, 2))
    ]
    entries = [shown(leibniz_det(W2), r"\det(W_\uparrow W_\downarrow)\big|_{d_{qk}=2}")]
    entries += [shown(m, r"M_{%d}\big|_{d_{qk}=1}" % (k + 1)) for k, m in enumerate(minors)]
    return Derivation(
        quantity=sp.ImmutableMatrix(len(entries), 1, entries),
        steps=[
            Step(
                sp.zeros(len(entries), 1),
                r"Cauchy-Binet: a $k \times k$ minor of $AB$ is a sum of products of $k \times k$ minors "
                r"of $A$ and $B$, and $A$ has none when $k > d_{qk}$",
            )
        ],
    )


@derivation
def low_rank_parameter_saving() -> Derivation:
    r"""The factored value map has $2 d_{\text{embed}} d_{qk}$ parameters, fewer than $d_{\text{embed}}^2$ exactly when $d_{qk} < d_{\text{embed}} / 2$"""
    de, dq = sp.symbols(r"d_{\text{embed}} d_{qk}", positive=True)
    return Derivation(
        quantity=sp.Lt(de * dq + dq * de, de**2, evaluate=False),
        steps=[
            Step(
                sp.Lt(2 * de * dq, de**2, evaluate=False),
                r"$W_\uparrow$ is $d_{\text{embed}} \times d_{qk}$, $W_\downarrow$ is $d_{qk} \times d_{\text{embed}}$",
            ),
            Step(sp.Lt(2 * dq, de, evaluate=False), r"divide by $d_{\text{embed}} > 0$"),
        ],
    )


# ----- GPT-3 -------

GPT3 = {
    "d_embed": 12288,
    "n_vocab": 50257,
    "d_query": 128,
    "d_value": 128,
    "n_heads": 96,
    "n_layers": 96,
    "n_neurons": 49152,
}

_NAMES = {
    "d_embed": r"d_{\text{embed}}",
    "n_vocab": r"n_{\text{vocab}}",
    "d_query": r"d_{\text{query}}",
    "d_value": r"d_{\text{value}}",
    "n_heads": r"n_{\text{heads}}",
    "n_layers": r"n_{\text{layers}}",
    "n_neurons": r"n_{\text{neurons}}",
}

# Each category of weights, as the notes list them: the factors of its count.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "embedding": ("d_embed", "n_vocab"),
    "key": ("d_query", "d_embed", "n_heads", "n_layers"),
    "query": ("d_query", "d_embed", "n_heads", "n_layers"),
    "value": ("d_value", "d_embed", "n_heads", "n_layers"),
    "output": ("d_embed", "d_value", "n_heads", "n_layers"),
    "up-projection": ("n_neurons", "d_embed", "n_layers"),
    "down-projection": ("d_embed", "n_neurons", "n_layers"),
    "unembedding": ("n_vocab", "d_embed"),
}

GPT3_TOTAL = 175_181_291_520


def _product(factors: tuple[str, ...]) -> sp.Expr:
    return sp.Mul(*[sp.Integer(GPT3[f]) for f in factors], evaluate=False)


def category_counts() -> dict[str, int]:
    """Each category's number of weights in GPT-3, by exact integer arithmetic."""
    return {name: int(_product(f).doit()) for name, f in CATEGORIES.items()}


def _named_sum(text: dict[str, str]) -> sp.Expr:
    return sp.Add(*[shown(_product(f), text[c]) for c, f in CATEGORIES.items()], evaluate=False)


@derivation
def gpt3_parameter_count() -> Derivation:
    r"""GPT-3's weights add up to exactly 175,181,291,520

    From $d_{\text{embed}} = 12288$, $n_{\text{vocab}} = 50257$, $d_{\text{query}} =
    d_{\text{value}} = 128$, $n_{\text{heads}} = 96$, $n_{\text{layers}} = 96$,
    $n_{\text{neurons}} = 49152$, category by category as the notes list them
    (the notes' "$n_{\text{embed}}$" in the unembedding is $d_{\text{embed}}$).  Key,
    query, value and output have 14,495,514,624 weights each; up- and
    down-projection 57,982,058,496 each; embedding and unembedding 617,558,016
    each.  Biases and layer norms are not counted, as in the notes.
    """
    symbolic = {
        c: r"\underbrace{%s}_{\text{%s}}" % (r" \cdot ".join(_NAMES[x] for x in f), c)
        for c, f in CATEGORIES.items()
    }
    numbers = {c: r" \cdot ".join(str(GPT3[x]) for x in f) for c, f in CATEGORIES.items()}
    counts = category_counts()
    values = sp.Add(
        *[
            shown(
                sp.Integer(counts[c]),
                r"\underbrace{%s}_{\text{%s}}" % (f"{counts[c]:,}".replace(",", "{,}"), c),
            )
            for c in CATEGORIES
        ],
        evaluate=False,
    )
    return Derivation(
        quantity=_named_sum(symbolic),
        steps=[
            Step(_named_sum(numbers), "GPT-3's dimensions"),
            Step(values, "multiply"),
            Step(sp.Integer(GPT3_TOTAL), "add"),
        ],
    )


@derivation
def gpt3_matrix_count() -> Derivation:
    r"""GPT-3's 27,938 matrices: $1 + n_{\text{layers}}(3 n_{\text{heads}} + 3) + 1$

    Per layer and head a key, a query and a value (down-projection) matrix;
    per layer one output matrix (the notes: "a horizontally stapled-together
    version of the $W_{vp}$ matrices", one per layer, not one per head), the
    MLP's up- and down-projection; plus the embedding and the unembedding.
    Counting the output as 96 matrices per layer would give 37,058.
    """
    h, layers = GPT3["n_heads"], GPT3["n_layers"]
    per_layer = sp.Add(
        shown(sp.Mul(3, h, evaluate=False), r"\underbrace{3 \cdot 96}_{\text{key, query, value}}"),
        shown(sp.Integer(1), r"\underbrace{1}_{\text{output}}"),
        shown(sp.Integer(2), r"\underbrace{2}_{\text{up, down}}"),
        evaluate=False,
    )
    return Derivation(
        quantity=sp.Add(
            shown(sp.Integer(1), r"\underbrace{1}_{\text{embedding}}"),
            sp.Mul(layers, per_layer, evaluate=False),
            shown(sp.Integer(1), r"\underbrace{1}_{\text{unembedding}}"),
            evaluate=False,
        ),
        steps=[
            Step(
                sp.Add(2, sp.Mul(layers, 291, evaluate=False), evaluate=False),
                "291 matrices per layer",
            ),
            Step(sp.Integer(27938), "multiply and add"),
        ],
    )
