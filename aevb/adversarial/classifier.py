"""MNIST classifiers by hand, for the adversarial examples of Szegedy et al. (arXiv 1312.6199).

Section 4.2 and Table 1 of "Intriguing properties of neural networks" attack
fully connected softmax classifiers: FC10(lambda) (a softmax on the pixels
with weight decay lambda), FC100-100-10 and FC200-200-10 (two hidden layers),
and AE400-10 (a softmax on an autoencoder's 400 features). This module builds
them from aevb's layers:

* :func:`softmax_cross_entropy_forward` / ``_backward``: the loss, stable for
  logits of any size (log-sum-exp after subtracting the row maximum);
* :class:`MLPClassifier`: tanh hidden layers and a softmax output, optionally
  on top of a frozen aevb VAE encoder whose posterior mean (``VAE.transform``)
  is the feature vector. **Departure from the paper**: the VAE encoder stands
  in for the paper's AE400-10 autoencoder;
* :func:`input_gradient`: d loss / d x, the gradient the attack follows;
* :func:`fit` (minibatches with aevb's optimizers), :func:`error_rate`,
  :func:`save_models` / :func:`load_models`.

Weight decay: the training loss is the mean cross-entropy plus
``(lambda / 2) * sum ||W||^2`` over the weight matrices (biases excluded), so
the gradient gains ``lambda * W``. The paper does not write its convention out;
this is the usual one. Weights act on rows (``x @ W``, W of shape (n_in, n_out)).
"""
import json
from dataclasses import dataclass, field

import numpy as np

from ..core.layers import linear_backward, linear_forward, tanh_backward, tanh_forward
from ..core.networks import GaussianMLPParams, gaussian_mlp_backward, gaussian_mlp_forward
from ..core.optim import make_optimizer

N_CLASSES = 10


# ---------------------------------------------------------------- the softmax layer

def log_softmax(logits):
    """``log softmax`` along the last axis without overflow: ``a - max - log sum exp(a - max)``."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax_cross_entropy_forward(logits, labels):
    """Mean cross-entropy ``-(1/M) sum_i log softmax(logits_i)[labels_i]``.

    Parameters
    ----------
    logits : ndarray, shape (M, K)
    labels : ndarray of int, shape (M,)

    Returns
    -------
    loss : float
    cache : tuple
    """
    logp = log_softmax(logits)                                  # (M, K)
    rows = np.arange(logits.shape[0])
    return float(-logp[rows, labels].mean()), (logp, labels)


def softmax_cross_entropy_backward(dloss, cache):
    """Backward of :func:`softmax_cross_entropy_forward`: ``dloss * (softmax - onehot) / M``."""
    logp, labels = cache
    dlogits = np.exp(logp)                                      # softmax, (M, K)
    dlogits[np.arange(logp.shape[0]), labels] -= 1.0
    dlogits *= dloss / logp.shape[0]
    return dlogits


# ---------------------------------------------------------------- the classifiers

@dataclass
class MLPClassifier:
    """``logits = MLP(features(x))`` with tanh hidden layers; ``features`` is x or a VAE's mean.

    Attributes
    ----------
    weights, biases : lists of ndarrays
        Layer k computes ``h @ weights[k] + biases[k]``, weights[k] of shape
        (n_in, n_out); tanh after every layer but the last.
    weight_decay : float
        lambda of the loss (module docstring).
    encoder : GaussianMLPParams or None
        A frozen VAE encoder (Appendix C.2); its posterior mean is the input of
        the first layer. Not trained here.
    name : str
    trained_samples : int
        Training examples seen by :func:`fit` (0: never trained).
    """
    weights: list
    biases: list
    weight_decay: float = 0.0
    encoder: object = None
    name: str = ""
    trained_samples: int = 0
    meta: dict = field(default_factory=dict)

    def arrays(self):
        """The trainable arrays ``[W_0, b_0, W_1, b_1, ...]`` (views)."""
        return [a for pair in zip(self.weights, self.biases) for a in pair]

    def features(self, x):
        """``x``, or the encoder's posterior mean E[z|x] (``VAE.transform``), shape (M, n_in)."""
        if self.encoder is None:
            return x, None
        (mean, _), cache = gaussian_mlp_forward(self.encoder, x)    # (M, J)
        return mean, cache

    def head_forward(self, h):
        """The trainable layers on features ``h``: returns (logits (M, 10), cache)."""
        caches = []
        for k, (W, b) in enumerate(zip(self.weights, self.biases)):
            h, c_lin = linear_forward(h, W, b)
            c_tanh = None
            if k < len(self.weights) - 1:
                h, c_tanh = tanh_forward(h)
            caches.append((c_lin, c_tanh))
        return h, caches

    def head_backward(self, dlogits, caches, need_dx=True):
        """Backward of :meth:`head_forward`: (dh, [dW_0, db_0, ...])."""
        grads, dh = [], dlogits
        for k in reversed(range(len(caches))):
            c_lin, c_tanh = caches[k]
            if c_tanh is not None:
                dh = tanh_backward(dh, c_tanh)
            dh, dW, db = linear_backward(dh, c_lin, need_dx=need_dx or k > 0)
            grads[:0] = [dW, db]
        return dh, grads

    def forward(self, x):
        """Logits for images ``x`` (M, D): returns (logits (M, 10), cache)."""
        h, c_enc = self.features(x)
        logits, c_head = self.head_forward(h)
        return logits, (c_enc, c_head)

    def backward(self, dlogits, cache):
        """Backward of :meth:`forward`: (dx (M, D), [dW_0, db_0, ...])."""
        c_enc, c_head = cache
        dh, grads = self.head_backward(dlogits, c_head)
        if c_enc is None:
            return dh, grads
        dx, _ = gaussian_mlp_backward(dh, np.zeros(dh.shape[:-1] + (self.encoder.b_logvar.size,)),
                                      c_enc)              # the encoder's logvar is not used
        return dx, grads

    def predict(self, x, chunk=2000):
        """The most probable class of each row of ``x``, shape (M,)."""
        return np.concatenate([self.forward(x[i:i + chunk])[0].argmax(axis=1)
                               for i in range(0, len(x), chunk)])


def make_classifier(hidden=(), weight_decay=0.0, encoder=None, n_in=784, name="", rng=None):
    """A fresh classifier: layer sizes ``n_in -> *hidden -> 10``, weights N(0, 1/n_in).

    With an ``encoder`` the first layer's input is its latent dimension J.
    """
    rng = np.random.default_rng(rng)
    if encoder is not None:
        encoder = encoder.astype(np.float64)
        n_in = encoder.b_mean.size
    sizes = [n_in, *hidden, N_CLASSES]
    weights = [rng.standard_normal((a, b)) / np.sqrt(a) for a, b in zip(sizes, sizes[1:])]
    biases = [np.zeros(b) for b in sizes[1:]]
    return MLPClassifier(weights, biases, float(weight_decay), encoder, name)


def input_gradient(model, x, labels):
    """Cross-entropy of ``labels`` at ``x`` and its gradient with respect to the image.

    Parameters
    ----------
    model : MLPClassifier
    x : ndarray, shape (M, D)
    labels : ndarray of int, shape (M,)

    Returns
    -------
    loss : float
        Mean over the M rows (weight decay excluded: it does not depend on x).
    dx : ndarray, shape (M, D)
    """
    logits, cache = model.forward(x)
    loss, c_loss = softmax_cross_entropy_forward(logits, labels)
    dx, _ = model.backward(softmax_cross_entropy_backward(1.0, c_loss), cache)
    return loss, dx


def training_loss(model, h, labels):
    """Mean cross-entropy + (lambda/2) sum ||W||^2, and its gradients [dW_0, db_0, ...].

    ``h`` (M, n_in) are the features: the images, or the frozen encoder's means
    (``model.features(x)[0]``), which need computing only once.
    """
    logits, caches = model.head_forward(h)
    loss, c_loss = softmax_cross_entropy_forward(logits, labels)
    _, grads = model.head_backward(softmax_cross_entropy_backward(1.0, c_loss), caches,
                                   need_dx=False)
    for k, W in enumerate(model.weights):
        loss += 0.5 * model.weight_decay * float(np.vdot(W, W))
        grads[2 * k] += model.weight_decay * W                    # d/dW of (lambda/2)||W||^2
    return loss, grads


# ---------------------------------------------------------------- training and evaluation

def fit(model, data, *, epochs=1, batch_size=100, optimizer="adam", lr=1e-3, rng=None):
    """Train the trainable layers by minibatches (the encoder, if any, stays fixed).

    Parameters
    ----------
    data : aevb.io.datasets.Dataset with labels (grey levels, no binarization)
    epochs : int
        Passes over ``data``, in a fresh random order each time.

    Returns
    -------
    model, trained in place.
    """
    rng = np.random.default_rng(rng)
    opt = make_optimizer(optimizer, lr)
    feats = None
    if model.encoder is not None:                 # the encoder is frozen: its means once
        feats = np.concatenate([model.features(data.batch(slice(i, i + 2000)))[0]
                                for i in range(0, len(data), 2000)])
    labels = np.asarray(data.labels, dtype=np.intp)
    for _ in range(int(epochs)):
        order = rng.permutation(len(data))
        for start in range(0, len(order), batch_size):
            idx = np.sort(order[start:start + batch_size])
            h = feats[idx] if feats is not None else data.batch(idx)
            _, grads = training_loss(model, h, labels[idx])
            opt.step(model.arrays(), grads)
            model.trained_samples += len(idx)
    if not all(np.isfinite(a).all() for a in model.arrays()):
        raise ValueError(f"training {model.name} produced NaN or infinite weights; "
                         f"lower the step size (lr={lr})")
    return model


def error_rate(model, data, chunk=2000):
    """Fraction of ``data`` (a labelled Dataset) that ``model`` misclassifies."""
    wrong = sum(int((model.predict(data.batch(slice(i, i + chunk))) !=
                     data.labels[i:i + chunk]).sum()) for i in range(0, len(data), chunk))
    return wrong / len(data)


# ---------------------------------------------------------------- files

def save_models(path, models):
    """Write classifiers (weights, encoders, settings) to one ``.npz`` file."""
    arrays, meta = {}, []
    for m in models:
        for k, (W, b) in enumerate(zip(m.weights, m.biases)):
            arrays[f"{m.name}/W_{k}"], arrays[f"{m.name}/b_{k}"] = W, b
        if m.encoder is not None:
            arrays.update({f"{m.name}/encoder.{k}": v for k, v in m.encoder.items()})
        meta.append({"name": m.name, "n_layers": len(m.weights), "weight_decay": m.weight_decay,
                     "encoder": m.encoder is not None, "trained_samples": m.trained_samples,
                     **m.meta})
    arrays["__meta__"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


def load_models(path):
    """The classifiers of a file written by :func:`save_models`; refuses untrained ones.

    Returns
    -------
    dict name -> MLPClassifier, in the file's order.
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(str(arrays["__meta__"]))
    except (OSError, KeyError, ValueError) as e:
        raise ValueError(f"{path} is not a readable model file ({type(e).__name__}); "
                         f"write one with 'aevb adversarial table1 --out DIR'") from None
    models = {}
    for m in meta:
        name = m["name"]
        if m["trained_samples"] <= 0:
            raise ValueError(f"model {name} in {path} was never trained; train it with "
                             f"'aevb adversarial table1' first")
        enc = None
        if m["encoder"]:
            enc = GaussianMLPParams(*[arrays[f"{name}/encoder.{k}"]
                                      for k in GaussianMLPParams.names()])
        extra = {k: v for k, v in m.items() if k not in
                 ("name", "n_layers", "weight_decay", "encoder", "trained_samples")}
        models[name] = MLPClassifier(
            [arrays[f"{name}/W_{k}"] for k in range(m["n_layers"])],
            [arrays[f"{name}/b_{k}"] for k in range(m["n_layers"])],
            m["weight_decay"], enc, name, m["trained_samples"], extra)
    return models
