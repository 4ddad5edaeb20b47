"""Training checkpoints: model, optimizer, scheduler, data loader position and random state in one atomic file."""
import json

import numpy as np

from minigrad import checkpoint, seeding

FORMAT = "minigrad-checkpoint"
VERSION = 1


def _jsonable(value, where):
    """value if json writes and reads it back as it is (numbers, strings, bools, None, lists, dicts), else
    TypeError naming where."""
    try:
        if json.loads(json.dumps(value)) == value or value != value:
            return value
    except (TypeError, ValueError):
        pass
    raise TypeError(f"save_checkpoint: {where} is a {type(value).__name__}; expected a NumPy array or plain data "
                    f"(numbers, strings, lists, dicts)")


def save_checkpoint(path, model=None, optimizer=None, scheduler=None, loader=None, **extra):
    """Write a training checkpoint to path ('.npz' added when missing): the model's Parameters, the optimizer
    (hyperparameters, step count, per-Parameter state by name, hooks' settings), the scheduler, the data
    loader's position, NumPy's global random state, and extra values (NumPy arrays or plain data such as
    epoch=3). Written to a temporary file and renamed, as save_weights: a failed save leaves the previous
    checkpoint whole. No pickle: settings are JSON, the rest arrays. Returns the path written."""
    arrays, meta = {}, {"format": FORMAT, "version": VERSION, "extra": {}, "extra_arrays": []}
    if model is not None:
        arrays.update({f"model/{k}": a for k, a in checkpoint.param_arrays(dict(model.named_params()),
                                                                          "save_checkpoint").items()})
        meta["model"] = type(model).__name__
    if optimizer is not None:
        sd = optimizer.state_dict()
        names = list(sd["state"])
        for i, name in enumerate(names):
            arrays.update({f"optimizer/{i}/{slot}": a for slot, a in sd["state"][name].items()})
        meta["optimizer"] = {**{k: v for k, v in sd.items() if k != "state"}, "params": names,
                             "initial_lr": getattr(optimizer, "initial_lr", None)}
    if scheduler is not None:
        meta["scheduler"] = scheduler.state_dict()
    if loader is not None:
        sd = loader.state_dict()
        arrays["loader/order"] = sd["order"]
        meta["loader"] = {"iteration": sd["iteration"], "rng": sd["rng"]}
    meta["rng"], arrays["rng/keys"] = seeding.rng_state()
    for key, value in extra.items():
        if isinstance(value, np.ndarray):
            arrays[f"extra/{key}"] = value
            meta["extra_arrays"].append(key)
        else:
            meta["extra"][key] = _jsonable(value, f"extra value {key!r}")
    arrays["meta.json"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    return checkpoint.write(arrays, path)


def load_checkpoint(path, model=None, optimizer=None, scheduler=None, loader=None, restore_rng=True):
    """Restore what save_checkpoint wrote into the objects given (fresh ones, in another process, are fine:
    everything is keyed by name) and NumPy's global random state (unless restore_rng=False). Every part is
    checked before any object changes: a file that does not match (a missing part, another optimizer, other
    shapes) raises and leaves all of them as they were. Returns the extra values, by name."""
    path = checkpoint.npz_path(path)
    with np.load(path, allow_pickle=False) as npz:
        stored = {name: npz[name] for name in npz.files}
    try:
        meta = json.loads(stored.pop("meta.json").tobytes().decode())
        assert meta["format"] == FORMAT
    except (KeyError, ValueError, AssertionError):
        raise ValueError(f"load_checkpoint: {path} is not a training checkpoint (save_checkpoint writes one; "
                         f"load_weights reads a model's weights)") from None
    if meta["version"] > VERSION:
        raise ValueError(f"load_checkpoint: {path} has format version {meta['version']}, newer than this "
                         f"minigrad's {VERSION}")
    steps = []
    for part, obj in (("model", model), ("optimizer", optimizer), ("scheduler", scheduler), ("loader", loader)):
        if obj is not None and part not in meta:
            raise ValueError(f"load_checkpoint: {path} holds no {part} (it has "
                             f"{[p for p in ('model', 'optimizer', 'scheduler', 'loader') if p in meta]})")
    new = {}
    if model is not None:
        params = dict(model.named_params())
        new = checkpoint.converted(params, {k[6:]: a for k, a in stored.items() if k.startswith("model/")}, path,
                                   type(model).__name__, model.named_lazy_shapes())
        steps.append(lambda: [setattr(p, "data", new[k]) for k, p in params.items()])
    if optimizer is not None:
        o = meta["optimizer"]
        state = {name: {k.split("/")[2]: a for k, a in stored.items() if k.startswith(f"optimizer/{i}/")}
                 for i, name in enumerate(o["params"])}
        steps.append(optimizer.prepare_load({**o, "state": state}, new))
        steps.append(lambda: setattr(optimizer, "initial_lr", o.get("initial_lr")))
    if scheduler is not None:
        steps.append(scheduler.prepare_load(meta["scheduler"]))
    if loader is not None:
        steps.append(loader.prepare_load({**meta["loader"], "order": stored.get("loader/order")}))
    if restore_rng:
        steps.append(seeding.check_rng_state(meta["rng"], stored.get("rng/keys")))
    for step in steps:
        step()
    return {**meta["extra"], **{k: stored[f"extra/{k}"] for k in meta["extra_arrays"]}}
