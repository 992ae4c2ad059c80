"""Scaled dot-product attention, forward and backward.

Shapes (any leading batch or head axes ``...``, the same for every argument):

* ``Q`` (..., T, d_k): one query per row;
* ``K`` (..., S, d_k): one key per row;
* ``V`` (..., S, d_v): one value per row;
* ``dO`` (..., T, d_v): the gradient of a loss with respect to the output.

Forward (derivation ``attention-forward``)::

    S = Q K^T / sqrt(d_k)                    scores, (..., T, S)
    P = softmax(S) over the keys (last axis)  each query's weights sum to 1
    O = P V                                   (..., T, d_v)

With ``causal=True`` (needs T == S) the scores above the diagonal (key j
after query i) are -inf before the softmax, so their weights are exactly 0.

Backward (derivation ``attention-backward``)::

    dV = P^T dO
    dP = dO V^T
    dS = P * (dP - rowsum(dP * P))
    dQ = dS K / sqrt(d_k)
    dK = dS^T Q / sqrt(d_k)

The softmax subtracts each row's maximum score first, so scores of any size
(1e4 and beyond) neither overflow nor lose the small weights.  The backward
pass recomputes P and works on blocks of the leading axes, one score matrix
and one dP matrix per head in a block at a time: P is turned into dS in place.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from numeric._arrays import Array, as_float_array, result_type

__all__ = ["attention", "attention_backward"]

# Heads (entries of the leading axes) per block: at most this many score entries at once.
_BLOCK_ENTRIES = 1 << 20


def _inputs(
    Q: ArrayLike, K: ArrayLike, V: ArrayLike, causal: bool, dO: ArrayLike | None = None
) -> tuple[Array, ...]:
    """Validated float arrays (one common dtype) and the leading shape, or an error naming them."""
    if not isinstance(causal, (bool, np.bool_)):
        raise TypeError(f"causal must be a bool, got {type(causal).__name__}")
    named = {"Q": Q, "K": K, "V": V} if dO is None else {"Q": Q, "K": K, "V": V, "dO": dO}
    arrays = {name: as_float_array(x, name) for name, x in named.items()}
    for name, a in arrays.items():
        if a.ndim < 2:
            raise ValueError(
                f"{name} must have at least 2 axes (..., rows, features), got {a.shape}"
            )
    q, k, v = arrays["Q"], arrays["K"], arrays["V"]
    lead = q.shape[:-2]
    for name, a in arrays.items():
        if a.shape[:-2] != lead:
            raise ValueError(
                f"leading (batch/head) axes differ: Q has shape {q.shape}, {name} has {a.shape}"
            )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"Q and K need the same d_k (last axis): Q has shape {q.shape}, K has {k.shape}"
        )
    if q.shape[-1] == 0:
        raise ValueError(f"d_k must be at least 1: Q has shape {q.shape}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"K and V need the same number of keys S (axis -2): K has shape {k.shape}, "
            f"V has {v.shape}"
        )
    if k.shape[-2] == 0:
        raise ValueError(f"there must be at least one key: K has shape {k.shape}")
    if causal and q.shape[-2] != k.shape[-2]:
        raise ValueError(f"causal attention needs T == S: Q has shape {q.shape}, K has {k.shape}")
    if dO is not None:
        want = (*lead, q.shape[-2], v.shape[-1])
        if arrays["dO"].shape != want:
            raise ValueError(
                f"dO must have the output's shape (..., T, d_v) = {want}, "
                f"got {arrays['dO'].shape} (Q {q.shape}, V {v.shape})"
            )
    dtype = result_type(*arrays.values())
    return tuple(a.astype(dtype, copy=False) for a in arrays.values())


def _t(a: Array) -> Array:
    return np.swapaxes(a, -1, -2)


def _probabilities(Qs: Array, K: Array, causal: bool) -> tuple[Array, Array]:
    """P = softmax(Qs K^T) over the last axis, and each row's argmax; Qs is Q already scaled."""
    P = Qs @ _t(K)
    if causal:
        n = P.shape[-1]
        # Key j after query i: masked.  The diagonal stays, so no row is all -inf.
        np.copyto(P, -np.inf, where=np.triu(np.ones((n, n), dtype=bool), k=1))
    # Shift by the row maximum (of the real part, so complex steps pass through unchanged).
    top = np.argmax(P.real, axis=-1)[..., None]
    P -= np.take_along_axis(P.real, top, axis=-1)
    np.exp(P, out=P)
    P /= np.sum(P, axis=-1, keepdims=True)
    return P, top


def _blocks(lead: tuple[int, ...], T: int, S: int) -> list[slice]:
    """Slices of the flattened leading axes, each with at most _BLOCK_ENTRIES scores."""
    n = int(np.prod(lead, dtype=np.int64))
    per = max(1, _BLOCK_ENTRIES // max(1, T * S))
    return [slice(i, min(i + per, n)) for i in range(0, n, per)]


def _flat(a: Array) -> Array:
    return a.reshape(-1, *a.shape[-2:])


def attention(Q: ArrayLike, K: ArrayLike, V: ArrayLike, causal: bool = False) -> Array:
    """softmax(Q K^T / sqrt(d_k)) V, the softmax over the keys (last axis of the scores).

    Q (..., T, d_k), K (..., S, d_k), V (..., S, d_v) -> (..., T, d_v).  With
    ``causal=True`` (T == S) query i attends only to keys j <= i.  float32 in
    gives float32 out; complex input is allowed (for complex-step checks).
    """
    q, k, v = _inputs(Q, K, V, causal)
    scale = 1.0 / np.sqrt(q.shape[-1])
    qf, kf, vf = _flat(q), _flat(k), _flat(v)
    out = np.empty((qf.shape[0], q.shape[-2], v.shape[-1]), dtype=q.dtype)
    for b in _blocks(q.shape[:-2], q.shape[-2], k.shape[-2]):
        P, _ = _probabilities(qf[b] * q.dtype.type(scale), kf[b], causal)
        np.matmul(P, vf[b], out=out[b])
    return out.reshape(*q.shape[:-1], v.shape[-1])


def attention_backward(
    Q: ArrayLike, K: ArrayLike, V: ArrayLike, dO: ArrayLike, causal: bool = False
) -> tuple[Array, Array, Array]:
    """(dQ, dK, dV): the gradients of sum(dO * attention(Q, K, V, causal)).

    dV = P^T dO; dS = P * (dO V^T - rowsum(dO * O)); dQ = dS K / sqrt(d_k);
    dK = dS^T Q / sqrt(d_k), with P = softmax(Q K^T / sqrt(d_k)) (masked if
    causal).  Shapes as the inputs: dQ like Q, dK like K, dV like V; dO has
    the output's shape (..., T, d_v).
    """
    q, k, v, do = _inputs(Q, K, V, causal, dO)
    scale = q.dtype.type(1.0 / np.sqrt(q.shape[-1]))
    qf, kf, vf, dof = _flat(q), _flat(k), _flat(v), _flat(do)
    dq, dk, dv = np.empty_like(qf), np.empty_like(kf), np.empty_like(vf)
    for b in _blocks(q.shape[:-2], q.shape[-2], k.shape[-2]):
        _backward_block(qf[b] * scale, kf[b], vf[b], dof[b], causal, scale, (dq[b], dk[b], dv[b]))
    return dq.reshape(q.shape), dk.reshape(k.shape), dv.reshape(v.shape)


def _backward_block(
    Qs: Array, K: Array, V: Array, dO: Array, causal: bool, scale: Any, out: tuple[Array, ...]
) -> None:
    """One block of heads; writes (dQ, dK, dV) into ``out``.  Qs is Q already scaled."""
    dq, dk, dv = out
    P, top = _probabilities(Qs, K, causal)
    np.matmul(_t(P), dO, out=dv)
    dP = dO @ _t(V)
    # rowsum(dP * P) = rowsum(dO * O): the same number, without a third T x S array.
    row = np.einsum("...ij,...ij->...i", dO, P @ V)
    dP -= row[..., None]
    P *= dP  # P now holds dS (masked entries stay 0: P was 0 there)
    del dP
    _rebalance(P, top)
    np.matmul(P, K, out=dq)
    dq *= scale
    np.matmul(_t(P), Qs, out=dk)


def _rebalance(dS: Array, top: Array) -> None:
    """Each row of dS sums to 0 exactly: the entry at the row's largest weight is set to
    minus the sum of the others.

    When one weight is close to 1, P_ij* (dP_ij* - rowsum) cancels (rowsum is
    about dP_ij*) and the computed entry is all rounding error, while the other
    entries, with small P_ij, are accurate.  Their negated sum is the accurate
    value of the entry at j*.
    """
    np.put_along_axis(dS, top, 0, axis=-1)
    np.put_along_axis(dS, top, -np.sum(dS, axis=-1, keepdims=True), axis=-1)
