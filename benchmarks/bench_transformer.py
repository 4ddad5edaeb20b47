"""A GPT training step (forward, backward, AdamW) of examples/transformer_lm.py's model, and attention alone, against
torch with the same weights (eager, torch's scaled_dot_product_attention), each side in its own worker processes;
the first step's loss and gradients are compared before anything is timed."""
import argparse
import json
import statistics
import subprocess
import sys

import numpy as np
from common import median_time, peak_rss, table

CONFIG = {"vocab": 103, "n_layer": 3, "n_head": 4, "n_embd": 128, "block": 64, "batch": 32}  # the example's defaults
ATTENTION = (8, 4, 256, 64)  # batch, heads, L, E
SMALL = {"vocab": 11, "n_layer": 1, "n_head": 2, "n_embd": 8, "block": 8, "batch": 2}, (1, 2, 8, 4)  # --small


def minigrad_model(c):
    import minigrad as mg
    from minigrad.optimizers import AdamW
    from minigrad.transformer import GPT
    mg.seed(0)
    model = GPT(c["vocab"], c["n_layer"], c["n_head"], c["n_embd"], c["block"], tie_weights=True)
    return model, AdamW(1e-3, weight_decay=0.1).setup(model)


def torch_model(c, model):
    """torch's modules with minigrad's GPT's weights (Linear weights transposed)."""
    import torch
    import torch.nn.functional as TF

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            e = c["n_embd"]
            self.ln1, self.ln2 = torch.nn.LayerNorm(e), torch.nn.LayerNorm(e)
            self.qkv, self.proj = torch.nn.Linear(e, 3 * e), torch.nn.Linear(e, e)
            self.fc, self.out = torch.nn.Linear(e, 4 * e), torch.nn.Linear(4 * e, e)

        def forward(self, x):
            n, t, e = x.shape
            h = c["n_head"]
            q, k, v = (a.view(n, t, h, e // h).transpose(1, 2) for a in self.qkv(self.ln1(x)).split(e, dim=-1))
            y = TF.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).reshape(n, t, e))
            return x + self.out(TF.gelu(self.fc(self.ln2(x)), approximate="tanh"))

    class GPT(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = torch.nn.Embedding(c["vocab"], c["n_embd"])
            self.pos = torch.nn.Parameter(torch.zeros(c["block"], c["n_embd"]))
            self.blocks = torch.nn.ModuleList([Block() for _ in range(c["n_layer"])])
            self.ln = torch.nn.LayerNorm(c["n_embd"])

        def forward(self, ids, targets):
            x = self.tok(ids) + self.pos[:ids.shape[1]]
            for b in self.blocks:
                x = b(x)
            x = self.ln(x)
            return TF.cross_entropy(x.reshape(-1, x.shape[-1]) @ self.tok.weight.T, targets.reshape(-1))

    net = GPT()
    ours = dict(model.named_params())
    with torch.no_grad():
        net.tok.weight.copy_(torch.tensor(ours["tok/W"].data))
        net.pos.copy_(torch.tensor(ours["pos/W"].data))
        for i, b in enumerate(net.blocks):
            for name in ("ln1", "ln2"):
                getattr(b, name).weight.copy_(torch.tensor(ours[f"b{i}/{name}/gamma"].data))
                getattr(b, name).bias.copy_(torch.tensor(ours[f"b{i}/{name}/beta"].data))
            for name, ref in (("qkv", "attn/qkv"), ("proj", "attn/proj"), ("fc", "fc"), ("out", "out")):
                getattr(b, name).weight.copy_(torch.tensor(ours[f"b{i}/{ref}/W"].data.T))
                getattr(b, name).bias.copy_(torch.tensor(ours[f"b{i}/{ref}/b"].data))
        net.ln.weight.copy_(torch.tensor(ours["ln/gamma"].data))
        net.ln.bias.copy_(torch.tensor(ours["ln/beta"].data))
    return net, torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=0.1)


def batch(c):
    rng = np.random.default_rng(1)
    return (rng.integers(0, c["vocab"], (c["batch"], c["block"])),
            rng.integers(0, c["vocab"], (c["batch"], c["block"])))


def check(c):
    """The first step's loss and a few gradients agree to float32 tolerance; raises otherwise."""
    import torch
    model, _ = minigrad_model(c)
    net, _ = torch_model(c, model)
    ids, t = batch(c)
    loss = model(ids, t)
    loss.backward()
    loss_t = net(torch.tensor(ids), torch.tensor(t))
    loss_t.backward()
    np.testing.assert_allclose(float(loss.data), float(loss_t.detach()), rtol=1e-5)
    ours = dict(model.named_params())
    np.testing.assert_allclose(ours["tok/W"].grad.data, net.tok.weight.grad.numpy(), rtol=2e-3, atol=2e-5)
    np.testing.assert_allclose(ours["b0/attn/qkv/W"].grad.data, net.blocks[0].qkv.weight.grad.numpy().T,
                               rtol=2e-3, atol=2e-5)
    return float(loss.data)


def setup(impl, c, threads):
    ids, t = batch(c)
    if impl == "minigrad":
        model, opt = minigrad_model(c)

        def step():
            loss = model(ids, t)
            model.cleargrads()
            loss.backward()
            opt.update()
        return step
    if impl == "torch":
        import torch
        torch.set_num_threads(threads)
        model, _ = minigrad_model(c)
        net, opt = torch_model(c, model)
        ti, tt = torch.tensor(ids), torch.tensor(t)

        def step():
            opt.zero_grad()
            net(ti, tt).backward()
            opt.step()
        return step
    rng = np.random.default_rng(0)  # attention alone
    q, k, v = (rng.standard_normal(ATTENTION, dtype=np.float32) for _ in range(3))
    gy = rng.standard_normal(ATTENTION, dtype=np.float32)
    if impl == "attention-minigrad":
        import minigrad as mg
        import minigrad.functions as F
        vs = [mg.Variable(a) for a in (q, k, v)]

        def step():
            for a in vs:
                a.grad = None
            F.scaled_dot_product_attention(*vs, is_causal=True).backward(gy)
        return step
    import torch
    torch.set_num_threads(threads)
    ts = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    tg = torch.tensor(gy)

    def step():
        for a in ts:
            a.grad = None
        torch.nn.functional.scaled_dot_product_attention(*ts, is_causal=True).backward(tg)
    return step


def worker(impl, threads, rounds):
    step = setup(impl, CONFIG, threads)
    step()  # lazy imports and compiled kernels load here, outside the step's own memory
    base = peak_rss(reset=True)
    seconds = median_time(step, rounds=rounds, warmup=2)
    print(json.dumps([seconds, peak_rss() - base]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2, help="workers per implementation")
    parser.add_argument("--small", action="store_true", help="tiny sizes (the test of this script)")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    a = parser.parse_args(argv)
    global CONFIG, ATTENTION
    if a.small:
        CONFIG, ATTENTION = SMALL
    if a.worker:
        return worker(a.worker[0], int(a.worker[1]), a.rounds)
    try:
        import torch  # noqa: F401
    except ImportError:
        print("torch is not installed (make torch): nothing to compare against")
        return
    print(f"first step: loss {check(CONFIG):.6f}, equal to torch's to float32 tolerance, gradients too")

    def run(impl, threads):
        out = subprocess.run([sys.executable, __file__, "--worker", impl, str(threads), "--rounds", str(a.rounds)]
                             + ["--small"] * a.small, capture_output=True, text=True, check=True)
        return json.loads(out.stdout)
    rows = []
    gpt = "GPT step, batch {batch} x {block}, {n_layer} layers, {n_embd} wide".format(**CONFIG)
    for ours, theirs, what in (("minigrad", "torch", gpt),
                               ("attention-minigrad", "attention-torch", f"attention {ATTENTION}, causal")):
        results = {ours: [run(ours, 2) for _ in range(a.repeats)]}
        for threads in (1, 2):
            results[f"{theirs} ({threads} thread{'s' if threads > 1 else ''})"] = [run(theirs, threads)
                                                                                for _ in range(a.repeats)]
        ms = {k: statistics.median(r[0] for r in v) * 1e3 for k, v in results.items()}
        mem = {k: max(r[1] for r in v) / 2 ** 20 for k, v in results.items()}
        best = min(v for k, v in ms.items() if k != ours)
        for k in results:
            rows.append([what, k, f"{ms[k]:.1f}", f"{mem[k]:.0f}", f"{ms[ours] / best:.2f}x" if k == ours else ""])
    print(table(rows, ["case", "implementation", "ms", "peak RSS growth (MiB)", "minigrad / best torch"]))


if __name__ == "__main__":
    main()
