"""A character-level GPT (minigrad.transformer.GPT) trained on the English help texts that ship with Python, the
text of char_lm.py: AdamW with a linear warm-up and cosine decay, gradient clipping, a checkpoint to resume from.

    python examples/transformer_lm.py [--steps 1500] [--n-layer 3] [--n-embd 128] [--resume] [--out plots]
"""
import argparse
import math
import os
import time

import numpy as np

import minigrad as mg
from char_lm import prepare
from minigrad import schedules
from minigrad.optimizers import AdamW, ClipGrad
from minigrad.transformer import GPT

STEPS = 1500  # training steps of the default run: a fixed count, so the result is the same on any machine


def batch(ids, block, size):
    """size random windows of block + 1 characters (NumPy's global generator: a checkpoint restores it)."""
    starts = np.random.randint(0, len(ids) - block - 1, size)
    rows = np.stack([ids[s:s + block + 1] for s in starts])
    return rows[:, :-1], rows[:, 1:]


def evaluate(model, ids, block):
    """Mean negative log-likelihood per character (nats) over the non-overlapping windows of ids."""
    n = (len(ids) - 1) // block
    x, t = ids[:n * block].reshape(n, block), ids[1:n * block + 1].reshape(n, block)
    total = 0.0
    with mg.no_grad(), mg.test_mode():
        for lo in range(0, n, 32):
            total += float(model(x[lo:lo + 32], t[lo:lo + 32]).data) * len(x[lo:lo + 32])
    return total / n


def sample(model, chars, prompt, length, rng, temperature=0.8):
    ids = [chars.index(c) for c in prompt]
    with mg.no_grad(), mg.test_mode():
        for _ in range(length):
            logits = model(np.array([ids[-model.block_size:]])).data[0, -1] / temperature
            p = np.exp(logits - logits.max())
            ids.append(int(rng.choice(len(chars), p=p / p.sum())))
    return "".join(chars[i] for i in ids)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps (a fixed count)")
    parser.add_argument("--n-layer", type=int, default=3)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--n-embd", type=int, default=128)
    parser.add_argument("--block", type=int, default=64, help="context length")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--warmup", type=int, default=100, help="linear warm-up steps")
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--clip", type=float, default=1.0, help="gradient norm limit")
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", default=None, help="checkpoint file (default OUT/transformer_lm.npz)")
    parser.add_argument("--save-every", type=int, default=500, help="steps between checkpoints")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    parser.add_argument("--stop-at", type=int, default=None, help="stop at this step, as an interrupted run would")
    parser.add_argument("--out", default="plots", help="folder for the curve PNG and the checkpoint")
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    rng, chars, train, valid, unigram = prepare(args.seed)
    model = GPT(len(chars), args.n_layer, args.n_head, args.n_embd, args.block, dropout=args.dropout,
                tie_weights=True)
    optimizer = AdamW(args.lr, weight_decay=args.weight_decay).setup(model).add_hook(ClipGrad(args.clip))
    warmup = min(args.warmup, max(1, args.steps - 1))
    schedule = schedules.SequentialLR(optimizer, [
        schedules.LinearLR(optimizer, 0.01, 1.0, warmup),
        schedules.CosineAnnealingLR(optimizer, max(1, args.steps - warmup), args.lr * 0.1)], [warmup])
    path = args.checkpoint or os.path.join(args.out, "transformer_lm.npz")
    history = {"step": [], "train": [], "valid_step": [], "valid": []}
    step = 0
    if args.resume:
        extra = mg.load_checkpoint(path, model, optimizer, schedule)
        step = int(extra["step"])
        history = {k: list(v) for k, v in extra["history"].items()}
        print(f"resumed from {path} at step {step}")
    else:
        x, _ = batch(train, args.block, 1)
        model(x)  # size nothing lazily: the summary below counts every parameter
        print(f"GPT: {args.n_layer} layers, {args.n_head} heads, {args.n_embd} wide, context {args.block}: "
              f"{model.count_params():,} parameters")
        print(f"before training: {sample(model, chars, 'The ', 80, rng)!r}")

    from tqdm import tqdm
    start, recent = time.perf_counter(), []
    bar = tqdm(total=args.steps, initial=step, unit="step", disable=args.quiet)
    while step < args.steps:
        x, t = batch(train, args.block, args.batch_size)
        loss = model(x, t)
        model.cleargrads()
        loss.backward()
        optimizer.update()
        schedule.step()
        step += 1
        recent.append(float(loss.data))
        bar.update(1)
        bar.set_postfix(loss=f"{recent[-1]:.3f}", lr=f"{optimizer.lr:.2e}")
        if step % 50 == 0 or step == args.steps:
            history["step"].append(step)
            history["train"].append(float(np.mean(recent)))
            recent = []
        if step % args.save_every == 0 or step == args.steps:
            history["valid_step"].append(step)
            history["valid"].append(evaluate(model, valid, args.block))
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            mg.save_checkpoint(path, model, optimizer, schedule, step=step, history=history)
        if step == args.stop_at:
            bar.close()
            print(f"stopped at step {step}; the checkpoint is {path}")
            return
    bar.close()
    nll = history["valid"][-1] if history["valid"] else evaluate(model, valid, args.block)
    print(f"trained {args.steps} steps ({args.steps * args.batch_size * args.block:,} characters) in "
          f"{time.perf_counter() - start:.0f} s")
    print(f"validation perplexity {math.exp(nll):.2f} (unigram {math.exp(unigram):.2f})")
    after = np.random.default_rng(args.seed + 1)  # its own draws: a resumed run samples the same text
    print(f"after training: {sample(model, chars, 'The ', 200, after)!r}")
    if not args.no_plots and history["step"]:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        os.makedirs(args.out, exist_ok=True)
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(history["step"], np.exp(history["train"]), label="training (mean of 50 steps)")
        ax.plot(history["valid_step"], np.exp(history["valid"]), "o-", label="validation")
        ax.axhline(math.exp(unigram), color="tab:red", ls=":", label="unigram model")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("perplexity")
        ax.legend()
        ax.set_title("character GPT on Python's help texts")
        fig.tight_layout()
        out = os.path.join(args.out, "transformer_lm.png")
        fig.savefig(out, dpi=100)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
