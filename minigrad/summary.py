"""model.summary(): the layers as called by one forward pass, their output shapes and parameter counts."""
from minigrad.config import no_grad, test_mode
from minigrad.core import Variable
from minigrad.layers import WATCHERS


def _shape(y):
    if isinstance(y, Variable):
        return str(tuple(y.shape))
    if isinstance(y, (tuple, list)):
        return ", ".join(_shape(v) for v in y)
    return type(y).__name__


def summary(model, *inputs):
    """The table of model's sub-layers in call order with their last output shape (from one forward pass on
    inputs, in test mode and without a graph) and own parameter count, then the totals, as a string."""
    names = {id(layer): name for name, layer in model.named_layers()}
    seen = {}

    def watch(layer, y):
        if id(layer) in names:
            calls = seen.get(id(layer), (layer, None, 0))[2]
            seen[id(layer)] = (layer, y, calls + 1)
    WATCHERS.append(watch)
    try:
        with no_grad(), test_mode():
            y = model(*inputs)
    finally:
        WATCHERS.remove(watch)
    rows = [("layer", "type", "output shape", "params")]
    for layer, out, calls in seen.values():
        own = sum(p.size for p in layer._own_params() if p.data is not None)
        shape = _shape(out) + (f" (x{calls} calls)" if calls > 1 else "")
        rows.append((names[id(layer)], type(layer).__name__, shape, f"{own:,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    rule = "-" * len(lines[0])
    total, arrays = model.count_params(), len(list(model.params()))
    return "\n".join([lines[0], rule, *lines[1:], rule,
                      f"output {_shape(y)}; {total:,} parameters in {arrays} arrays"])
