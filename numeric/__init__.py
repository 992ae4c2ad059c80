"""verigrad's numeric half: NumPy functions whose gradients are verified three ways.

Each function here is checked against the symbolic result of a derivation
(``verigrad show NAME``), against finite differences, and against a 50-digit
mpmath reference.  NumPy only: importing this package never loads SymPy.

Arrays are float64 unless float32 is passed (then float32 out).  Rows are
samples; gradients are of the mean loss over the batch unless named
otherwise.  Bad input raises ``ValueError`` or ``TypeError`` naming the
argument and the shapes or values at fault.
"""

from numeric.activations import (
    log_sigmoid,
    log_softmax,
    logsumexp,
    relu,
    relu_grad,
    sigmoid,
    sigmoid_grad,
    softmax,
    softmax_jacobian,
    softplus,
)
from numeric.attention import attention, attention_backward
from numeric.finite_diff import (
    EntryCheck,
    GradcheckReport,
    assert_gradient,
    central_difference,
    complex_step,
    gradcheck,
    jacobian,
    ridders,
)
from numeric.losses import (
    bce,
    bce_with_logits,
    bce_with_logits_grad,
    cross_entropy,
    cross_entropy_grad,
)
from numeric.models import (
    logistic_regression_grad,
    logistic_regression_loss,
    mlp_forward,
    mlp_loss,
    mlp_loss_and_grads,
    softmax_regression_grad,
    softmax_regression_loss,
)

__all__ = [
    "EntryCheck",
    "GradcheckReport",
    "assert_gradient",
    "attention",
    "attention_backward",
    "bce",
    "bce_with_logits",
    "bce_with_logits_grad",
    "central_difference",
    "complex_step",
    "cross_entropy",
    "cross_entropy_grad",
    "gradcheck",
    "jacobian",
    "log_sigmoid",
    "log_softmax",
    "logistic_regression_grad",
    "logistic_regression_loss",
    "logsumexp",
    "mlp_forward",
    "mlp_loss",
    "mlp_loss_and_grads",
    "relu",
    "relu_grad",
    "ridders",
    "sigmoid",
    "sigmoid_grad",
    "softmax",
    "softmax_jacobian",
    "softmax_regression_grad",
    "softmax_regression_loss",
    "softplus",
]
