"""Drawing: the computational graph of a Variable (DOT text, rendered with Graphviz), and confusion matrices."""
import os
import shutil
import subprocess

import numpy as np

from minigrad.core import Variable


def _dot_var(v, verbose):
    label = v.name or ""
    if verbose:
        label += (": " if label else "") + f"{v.shape} {v.dtype}"
    text = f'{id(v)} [label="{label}", color=orange, style=filled]\n'
    return text + (f"{id(v.creator)} -> {id(v)}\n" if v.creator is not None else "")


def to_dot(y, verbose=False):
    """The graph that produced y, as DOT text (variables orange, functions blue); no recursion."""
    if not isinstance(y, Variable):
        raise TypeError(f"to_dot: expected a Variable, got {type(y).__name__}")
    text, seen, todo = _dot_var(y, verbose), set(), [y.creator] if y.creator is not None else []
    while todo:
        f = todo.pop()
        if id(f) in seen:
            continue
        seen.add(id(f))
        text += f'{id(f)} [label="{type(f).__name__}", color=lightblue, style=filled, shape=box]\n'
        for x in f.inputs:
            text += _dot_var(x, verbose) + f"{id(x)} -> {id(f)}\n"
            if x.creator is not None:
                todo.append(x.creator)
    return "digraph g {\n" + text + "}\n"


def plot_graph(y, verbose=True, to_file="graph.png"):
    """Write y's graph as DOT next to to_file and render it with Graphviz's `dot`; returns to_file.

    Raises RuntimeError saying how to install Graphviz when `dot` is not on the PATH.
    """
    dot_file = os.path.splitext(to_file)[0] + ".dot"
    with open(dot_file, "w") as f:
        f.write(to_dot(y, verbose))
    if shutil.which("dot") is None:
        raise RuntimeError(f"Graphviz's `dot` was not found on the PATH; the graph is in {dot_file}. Install "
                           f"Graphviz (apt install graphviz, brew install graphviz or conda install graphviz) "
                           f"to render it")
    extension = os.path.splitext(to_file)[1][1:] or "png"
    subprocess.run(["dot", dot_file, "-T", extension, "-o", to_file], check=True)
    return to_file


def confusion_matrix(t, predicted, classes):
    """counts[i, j]: how many examples of true class i were predicted as class j."""
    counts = np.zeros((classes, classes), dtype=int)
    np.add.at(counts, (np.asarray(t), np.asarray(predicted)), 1)
    return counts


def plot_confusion(counts, path, title):
    """Draw a confusion matrix (counts in the cells) to a PNG at path with matplotlib."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.imshow(counts, cmap="Blues")
    for i, j in np.ndindex(counts.shape):
        if counts[i, j]:
            ax.text(j, i, counts[i, j], ha="center", va="center", fontsize=8,
                    color="white" if counts[i, j] > counts.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(len(counts)))
    ax.set_yticks(range(len(counts)))
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

