"""A character-level language model (EmbedID, LSTM, and a fused linear_cross_entropy output layer) trained on
the English help texts that ship with Python (pydoc_data); prints text sampled before and after training.

    python examples/char_lm.py [--windows 3000] [--hidden 256] [--bptt 32] [--batch-size 32] [--out plots]
"""
import argparse
import math
import os
import time

import numpy as np

import minigrad as mg
import minigrad.layers as L
from minigrad.models import Model
from minigrad.optimizers import Adam, ClipGrad

WINDOWS = 3000  # BPTT windows of the default run: about 2.5 minutes on 2 cores


def corpus(valid_fraction=0.05):
    """The pydoc topics as one text, its characters (sorted), and the text as ids split into train and
    validation (the last valid_fraction)."""
    import pydoc_data.topics
    text = "".join(pydoc_data.topics.topics[k] for k in sorted(pydoc_data.topics.topics))
    chars = sorted(set(text))
    lookup = {c: i for i, c in enumerate(chars)}
    ids = np.array([lookup[c] for c in text], dtype=np.int64)
    cut = int(len(ids) * (1 - valid_fraction))
    return chars, ids[:cut], ids[cut:]


class CharLM(Model):
    """ids -> embedding -> LSTM -> logits over the characters; the output layer fuses the loss."""

    def __init__(self, vocab, embed=64, hidden=256):
        super().__init__()
        self.embed = L.EmbedID(vocab, embed)
        self.lstm = L.LSTM(hidden, in_size=embed)
        self.head = L.LinearCrossEntropy(vocab, in_size=hidden)

    def reset_state(self):
        self.lstm.reset_state()

    def step(self, ids):
        """One time step: the LSTM's output for a batch of ids (B,)."""
        return self.lstm(self.embed(ids))


def prepare(seed):
    """Seed minigrad, load the text and print its sizes and the unigram model's validation perplexity; returns a
    generator for sampling, the characters, the train and validation ids and the unigram's nats per character."""
    mg.seed(seed)
    rng = np.random.default_rng(seed)
    chars, train, valid = corpus()
    counts = np.bincount(train, minlength=len(chars)) + 1
    unigram = float(-np.mean(np.log(counts / counts.sum())[valid]))
    print(f"{len(train):,} training and {len(valid):,} validation characters, {len(chars)} distinct; "
          f"unigram perplexity on validation {math.exp(unigram):.2f}")
    return rng, chars, train, valid, unigram


def windows(ids, batch_size, bptt):
    """Truncated-BPTT batches: the text cut into batch_size parallel streams, bptt steps at a time; yields
    (inputs, targets), each (bptt, batch_size)."""
    steps = (len(ids) - 1) // batch_size
    streams = ids[:steps * batch_size + 1]
    x = np.stack([streams[i * steps:(i + 1) * steps] for i in range(batch_size)], axis=1)
    t = np.stack([streams[i * steps + 1:(i + 1) * steps + 1] for i in range(batch_size)], axis=1)
    for lo in range(0, steps - bptt + 1, bptt):
        yield x[lo:lo + bptt], t[lo:lo + bptt]


def evaluate(model, ids, batch_size=64, bptt=64):
    """Mean negative log-likelihood per character (nats) on ids, state carried across windows."""
    model.reset_state()
    total, count = 0.0, 0
    with mg.no_grad():
        for x, t in windows(ids, batch_size, bptt):
            for xs, ts in zip(x, t):
                total += float(model.head(model.step(xs), ts)) * len(ts)
                count += len(ts)
    return total / count


def sample(model, chars, prompt, length, rng, temperature=0.8):
    model.reset_state()
    with mg.no_grad():
        for c in prompt[:-1]:
            model.step(np.array([chars.index(c)]))
        i, out = chars.index(prompt[-1]), []
        for _ in range(length):
            logits = model.head(model.step(np.array([i]))).data[0] / temperature
            p = np.exp(logits - logits.max())
            i = int(rng.choice(len(chars), p=p / p.sum()))
            out.append(chars[i])
    return prompt + "".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=WINDOWS, help="BPTT windows to train (a fixed count, so that "
                        "the result is the same on any machine)")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--embed", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--bptt", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.003)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="plots", help="folder for the loss curve PNG")
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    rng, chars, train, valid, unigram = prepare(args.seed)
    model = CharLM(len(chars), args.embed, args.hidden)
    optimizer = Adam(lr=args.lr).setup(model)
    optimizer.add_hook(ClipGrad(5.0))
    prompt = "The "
    print(f"before training: {sample(model, chars, prompt, 80, rng)!r}")

    from tqdm import tqdm
    limit = args.windows
    history = {"window": [], "train": [], "valid": []}
    start, done, epoch, recent = time.perf_counter(), 0, 0, []
    bar = tqdm(total=limit, unit="window", disable=args.quiet)
    while done < limit:
        epoch += 1
        model.reset_state()
        for x, t in windows(train, args.batch_size, args.bptt):
            loss = 0
            for xs, ts in zip(x, t):
                loss += model.head(model.step(xs), ts)
            loss = loss / args.bptt
            model.cleargrads()
            loss.backward()
            loss.unchain_backward()  # the state carries on; the graph behind it is cut
            optimizer.update()
            done += 1
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{float(loss):.3f}")
            recent.append(float(loss))
            if done % 50 == 0:  # the mean training loss of the last 50 windows
                history["window"].append(done)
                history["train"].append(float(np.mean(recent)))
                recent = []
            if done >= limit:
                break
    bar.close()
    nll = evaluate(model, valid)
    history["valid"] = nll
    print(f"trained {done} windows ({done * args.bptt * args.batch_size:,} characters, {epoch} epoch(s)) in "
          f"{time.perf_counter() - start:.0f} s")
    print(f"validation perplexity {math.exp(nll):.2f} (unigram {math.exp(unigram):.2f})")
    print(f"after training: {sample(model, chars, prompt, 200, rng)!r}")
    if not args.no_plots and history["window"]:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        os.makedirs(args.out, exist_ok=True)
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(history["window"], np.exp(history["train"]), label="training (mean of 50 windows)")
        ax.axhline(math.exp(nll), color="tab:green", ls="--", label="validation, end of training")
        ax.axhline(math.exp(unigram), color="tab:red", ls=":", label="unigram model")
        ax.set_yscale("log")
        ax.set_xlabel("BPTT window")
        ax.set_ylabel("perplexity")
        ax.legend()
        ax.set_title("character LSTM on Python's help texts")
        fig.tight_layout()
        path = os.path.join(args.out, "char_lm.png")
        fig.savefig(path, dpi=100)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
