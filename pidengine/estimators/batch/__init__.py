r"""The BATCH estimator: PID of continuous, high-dimensional modalities from classifiers and learned couplings.

Discrete estimators need the joint table :math:`p(x_1, x_2, y)`; for images, embeddings or sensor windows there is
none. Following Liang et al. (2023, "BATCH"), the pairwise marginals are represented by classifiers and the
optimisation over :math:`\Delta_p` by alignment networks whose couplings are projected onto the constraints of each
minibatch:

1. Fit :math:`\hat p(y \mid x_1)`, :math:`\hat p(y \mid x_2)` and :math:`\hat p(y \mid x_1, x_2)` (small MLPs trained
   with cross-entropy and early stopping, or the caller's own models).
2. Two alignment networks map :math:`x_1` and :math:`x_2` to one :math:`d`-dimensional embedding per label,
   :math:`f_1(x_1)_y, f_2(x_2)_y \in \mathbb{R}^d`. For a minibatch of :math:`m` pairs,

   .. math:: A[a, b, y] = \exp\big(\langle f_1(x_{1,a})_y, f_2(x_{2,b})_y \rangle / \sqrt{d}\big).

3. For each :math:`y`, Sinkhorn-scale :math:`A[:, :, y]` (:func:`~pidengine.estimators.sinkhorn.sinkhorn_log`) so that

   .. math:: \sum_b q(a, b, y) = r(a, y), \qquad \sum_a q(a, b, y) = c(b, y),

   the constraints of :math:`\Delta_p` restricted to the batch (defined below).
4. Train the alignment networks to minimise :math:`I_q(X_1, X_2; Y)`, i.e. to maximise
   :math:`H_q(Y \mid X_1, X_2)` (:math:`H_q(Y)` is fixed by the constraints), on training batches; on held-out
   batches read

   .. math::

       U_1 = H(Y \mid X_2) - H_q(Y \mid X_1, X_2), \qquad U_2 = H(Y \mid X_1) - H_q(Y \mid X_1, X_2),

       R = H(Y) - H(Y \mid X_1) - H(Y \mid X_2) + H_q(Y \mid X_1, X_2), \qquad
       S = H_q(Y \mid X_1, X_2) - H_p(Y \mid X_1, X_2),

   which is :math:`U_1 = I_q - I(X_2;Y)`, :math:`U_2 = I_q - I(X_1;Y)`, :math:`R = I(X_1;Y) + I(X_2;Y) - I_q`,
   :math:`S = I_p - I_q` written with conditional entropies; they sum to :math:`I_p(X_1,X_2;Y) = H(Y) - H_p(Y \mid
   X_1, X_2)` exactly.

**The batch marginals.** On a batch, the empirical distribution of :math:`x_1` is uniform over its :math:`m` points,
so the natural constraint is :math:`q(x_{1,a}, y) = \hat p(y \mid x_{1,a}) / m`; its label marginal
:math:`\pi_1(y) = \frac1m \sum_a \hat p(y \mid x_{1,a})` generally differs from :math:`\pi_2(y)` (sampling noise and
classifier error), and then no :math:`q` satisfies both constraints. We keep each classifier's class-conditional
batch distribution, :math:`\hat p_B(x_{1,a} \mid y) = \hat p(y \mid x_{1,a}) / \sum_{a'} \hat p(y \mid x_{1,a'})`,
and give both modalities the common label marginal :math:`\pi_B = (\pi_1 + \pi_2) / 2`:

.. math::

    r(a, y) = \pi_B(y)\, \hat p_B(x_{1,a} \mid y), \qquad c(b, y) = \pi_B(y)\, \hat p_B(x_{2,b} \mid y).

This is the label-shift (prior) correction of each classifier to :math:`\pi_B` (Saerens et al., 2002); it moves
the posteriors as little as any common marginal can, and every quantity of the batch is computed from the same
:math:`r`, :math:`c` and :math:`q`, so :math:`U_1, U_2 \ge 0` hold on every batch (up to the Sinkhorn tolerance).
:math:`H(Y \mid X_i)` is the :math:`r`- (:math:`c`-) weighted mean entropy of the corrected posteriors,
:math:`H_p(Y \mid X_1, X_2)` the mean entropy of :math:`\hat p(y \mid x_1, x_2)` over the batch's pairs, and
:math:`H(Y)` the entropy of the training label prior (the plug-in entropy of a batch's :math:`\pi_B` would be biased
low by about :math:`(|Y| - 1) / (2 m \ln 2)` bits).

Every figure is reported in bits; the torch code works in nats and converts once
(:func:`~pidengine.parts.nats_to_bits`). Parts are reported as computed, never clipped: a negative part (possible for
R and S, e.g. when the joint classifier is worse than the coupling) is flagged in
:attr:`BatchPIDResult.negative_parts`.

Modules
-------
``estimator``
    :class:`BatchEstimator`: settings, fitting per seed, estimating on held-out batches.
``results``
    :class:`BatchPIDResult` and :class:`BatchDiagnostics`.
``objective``
    The batch marginals and conditional entropies above, in nats.
``networks``
    The MLP of every network and the alignment networks' kernel.
``training``
    Training of the classifiers (with a temperature) and of the alignment networks.
``quality``
    A classifier's cross-entropy against the label prior's (the diagnostics and their warnings).
``inputs``
    The checks of features, labels, device and a caller's classifier.

References
----------
1. P. P. Liang et al. (2023). Quantifying & modeling multimodal interactions: an information decomposition
   framework. *NeurIPS*. arXiv:2302.12247.
2. N. Bertschinger, J. Rauh, E. Olbrich, J. Jost, N. Ay (2014). Quantifying unique information. *Entropy* 16(4).
3. M. Saerens, P. Latinne, C. Decaestecker (2002). Adjusting the outputs of a classifier to new a priori
   probabilities. *Neural Computation* 14(1).
4. C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger (2017). On calibration of modern neural networks. *ICML*.
"""

from typing import TYPE_CHECKING

from pidengine._lazy import lazy_exports
from pidengine.estimators.batch.estimator import MIN_FIT_SAMPLES, MIN_LABEL_COUNT_PER_BATCH, BatchEstimator
from pidengine.estimators.batch.inputs import PROB_FLOOR, ProbaFn
from pidengine.estimators.batch.quality import OVERCONFIDENCE_BITS, PRIOR_MARGIN_BITS
from pidengine.estimators.batch.results import CLASSIFIERS, BatchDiagnostics, BatchPIDResult

if TYPE_CHECKING:
    from pidengine.estimators.batch.objective import (
        batch_marginals,
        conditional_entropy_of_marginal,
        conditional_entropy_of_plan,
    )

# The torch functions of the objective load on first use (PEP 562): importing the package, as the pipeline's
# settings do to read BatchEstimator's parameters, does not import torch.
_EXPORTS = dict.fromkeys(
    ("batch_marginals", "conditional_entropy_of_marginal", "conditional_entropy_of_plan"),
    "pidengine.estimators.batch.objective",
)

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)

__all__ = [
    "CLASSIFIERS",
    "MIN_FIT_SAMPLES",
    "MIN_LABEL_COUNT_PER_BATCH",
    "OVERCONFIDENCE_BITS",
    "PRIOR_MARGIN_BITS",
    "PROB_FLOOR",
    "BatchDiagnostics",
    "BatchEstimator",
    "BatchPIDResult",
    "ProbaFn",
    *_EXPORTS,
]
