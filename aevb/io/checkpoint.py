"""Checkpoints that survive crashes, and a log that survives a torn last line.

A checkpoint is one ``.npz`` file holding the parameters (``encoder.W_h``,
..., ``decoder.b_logits``), the optimizer's state (``optimizer.I.K``), the
minibatch order (``sampler.order``), and a JSON document (``meta``) with the
random generators' states, the counters and the run's config.

Every save is atomic: the bytes go to a temporary file in the same folder,
are flushed and fsync'ed, and only then renamed over the old checkpoint, so a
crash at any moment leaves either the previous checkpoint or the new one,
never a torn file.
"""
import io
import json
import os
import time
import zipfile
from pathlib import Path

import numpy as np

from ..core.networks import BernoulliMLPParams, GaussianMLPParams

CONTAINERS = {"GaussianMLPParams": GaussianMLPParams, "BernoulliMLPParams": BernoulliMLPParams}


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, or does not fit the run."""


def why_unreadable(e):
    """Why ``np.load`` (or the reading of what it gave) failed, in aevb's words: NumPy's own
    message for a file that is no .npz archive advises ``allow_pickle=True``, which must
    never be followed for a file one did not write."""
    if isinstance(e, ValueError) and "allow_pickle" in str(e):
        return "it is not a NumPy .npz archive"
    if isinstance(e, (zipfile.BadZipFile, EOFError)):
        return f"it is not a whole .npz archive ({e})"
    if isinstance(e, KeyError):
        return f"it lacks the entry {e}"
    return f"{type(e).__name__}: {e}"


def atomic_write_bytes(path, payload):
    """Write ``payload`` to ``path`` via a temporary file, fsync and rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")     # one per writing process
    # Test hook: the crash test sets this to pause half-way through the write,
    # so that it can SIGKILL the process while a temporary file is half written.
    pause = float(os.environ.get("AEVB_TEST_PAUSE_IN_SAVE", "0") or 0)
    try:
        with open(tmp, "wb") as f:
            half = len(payload) // 2
            f.write(payload[:half])
            if pause:
                f.flush()
                time.sleep(pause)
            f.write(payload[half:])
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:              # a full disk, a read-only folder, Ctrl-C: no stray file
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    try:                               # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def write_json(path, obj):
    """Write ``obj`` as indented JSON, atomically (:func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode())


def read_meta(path):
    """The JSON part of a checkpoint (read alone, not the arrays); {} if missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return json.loads(str(z["meta"]))
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return {}


def param_arrays(enc, dec):
    """The parameters as ``{"encoder.W_h": ..., "decoder.b_logits": ...}`` (the .npz names)."""
    arrays = {} if enc is None else {f"encoder.{k}": v for k, v in enc.items()}   # MCEM: None
    arrays.update({f"decoder.{k}": v for k, v in dec.items()})
    return arrays


def save_params(path, enc, dec):
    """Write the parameters alone (a finished run's ``params.npz``), atomically."""
    buf = io.BytesIO()
    np.savez(buf, **param_arrays(enc, dec))
    atomic_write_bytes(path, buf.getvalue())


def load_params(path):
    """The (encoder, decoder) of a ``params.npz`` written by :func:`save_params`.

    The decoder's type follows from its array names (``W_logits``: Bernoulli).
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        dec_type = ("BernoulliMLPParams" if "decoder.W_logits" in arrays
                    else "GaussianMLPParams")
        enc = (container("GaussianMLPParams", "encoder", arrays)
               if "encoder.W_h" in arrays else None)        # MCEM has no encoder
        return enc, container(dec_type, "decoder", arrays)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise CheckpointError(f"{path} is not a readable aevb parameter file "
                              f"({why_unreadable(e)})") from None


def save(path, enc, dec, trainer_state, meta):
    """Write a checkpoint atomically.

    Parameters
    ----------
    enc, dec : parameter containers
    trainer_state : dict from :meth:`aevb.core.train.Trainer.state_dict`
        Besides the keys every trainer has, a method may add ``extra`` (a dict
        of name -> ndarray, saved as ``extra.NAME``) and ``extra_meta`` (any
        JSON-serializable value); :func:`load` gives both back.
    meta : dict, JSON-serializable (the config, the evaluation rng state, ...)
    """
    arrays = param_arrays(enc, dec)
    opt = trainer_state["optimizer"]
    for i, per_array in enumerate(opt["state"] or []):
        for k, a in enumerate(per_array):
            arrays[f"optimizer.{i}.{k}"] = a
    arrays["sampler.order"] = trainer_state["sampler"]["order"]
    extra = trainer_state.get("extra") or {}          # a method's own arrays (MCEM's chains, ...)
    for name, a in extra.items():
        arrays[f"extra.{name}"] = np.asarray(a)
    doc = {**meta, "seen": trainer_state["seen"], "step": trainer_state["step"],
           "extra_names": sorted(extra), "extra_meta": trainer_state.get("extra_meta"),
           "rng": trainer_state["rng"], "sampler_pos": trainer_state["sampler"]["pos"],
           "optimizer_t": opt["t"], "optimizer_has_state": opt["state"] is not None,
           "encoder_type": None if enc is None else type(enc).__name__,
           "decoder_type": type(dec).__name__}
    arrays["meta"] = np.array(json.dumps(doc))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def load(path):
    """Read a checkpoint written by :func:`save`.

    Returns
    -------
    enc, dec : parameter containers
    trainer_state : dict for :meth:`aevb.core.train.Trainer.load_state_dict`
    meta : dict
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        doc = json.loads(str(arrays.pop("meta")))
        enc = None if doc["encoder_type"] is None else \
            container(doc["encoder_type"], "encoder", arrays)
        dec = container(doc["decoder_type"], "decoder", arrays)
        n_opt = (0 if enc is None else len(enc.names())) + len(dec.names())
        state = None
        if doc["optimizer_has_state"]:
            state = [[arrays[f"optimizer.{i}.{k}"] for k in range(_count(arrays, i))]
                     for i in range(n_opt)]
        trainer_state = {"seen": doc["seen"], "step": doc["step"], "rng": doc["rng"],
                         "sampler": {"order": arrays["sampler.order"], "pos": doc["sampler_pos"]},
                         "optimizer": {"t": doc["optimizer_t"], "state": state},
                         "extra": {n: arrays[f"extra.{n}"] for n in doc.get("extra_names", [])},
                         "extra_meta": doc.get("extra_meta")}
    except CheckpointError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise CheckpointError(f"{path} is not a readable aevb checkpoint ({why_unreadable(e)}); "
                              f"it may be corrupt or from another program") from None
    return enc, dec, trainer_state, doc


def _count(arrays, i):
    return sum(1 for k in arrays if k.startswith(f"optimizer.{i}."))


def container(type_name, prefix, arrays):
    """A parameter container of class ``type_name`` from the arrays ``{prefix}.{field}``.

    Refuses arrays that are not finite float32 or float64 (NaN or infinity, a complex or
    integer dtype), naming the first: a file holding them gives no usable model.
    """
    if type_name not in CONTAINERS:
        raise CheckpointError(f"unknown parameter container {type_name!r}")
    cls = CONTAINERS[type_name]
    fields = []
    for name in cls.names():
        a = arrays[f"{prefix}.{name}"]
        if a.dtype not in (np.float32, np.float64):
            raise CheckpointError(f"{prefix}.{name} has dtype {a.dtype}; parameters are float32 "
                                  f"or float64")
        if not np.isfinite(a).all():
            raise CheckpointError(f"{prefix}.{name} holds NaN or infinity: the parameters are "
                                  f"broken (a run that diverged?); use an earlier file")
        fields.append(a)
    return cls(*fields)


def read_log(path, upto=None):
    """Records of a ``log.jsonl``, tolerating a torn last line.

    A last line that is incomplete (no newline) or not valid JSON is dropped,
    as are records past ``upto`` training samples (written after the last
    checkpoint, so they will be written again on resume). A bad line before
    the last is an error: that is not a crash, the file was damaged.
    """
    path = Path(path)
    if not path.exists():
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CheckpointError(f"{path} is not UTF-8 text, so not an aevb log") from None
    lines = text.split("\n")
    torn = lines.pop()          # '' if the file ends with a newline
    records = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if n == len(lines) and not torn:
                break               # the last complete-looking line is torn
            raise CheckpointError(f"{path}, line {n}, is not valid JSON: {line[:80]!r}") from None
    for n, r in enumerate(records, 1):
        if not (isinstance(r, dict) and isinstance(r.get("samples"), int)
                and not isinstance(r.get("samples"), bool)):
            raise CheckpointError(f"{path}, record {n}, is not an aevb log record (a JSON object "
                                  f"with an integer 'samples'): {json.dumps(r)[:80]}")
    if upto is not None:
        records = [r for r in records if r["samples"] <= upto]
    return records
