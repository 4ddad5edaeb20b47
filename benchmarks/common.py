"""Timing helpers for the benchmark scripts: warm-up, interleaved rounds, medians."""
import statistics
import time


def median_time(fn, rounds=7, warmup=2):
    """Median wall time of fn() in seconds over `rounds` calls after `warmup` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved(fns, rounds=7, warmup=2):
    """Median time of each function in a dict, measured round-robin so noise hits all alike."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def table(rows, headers):
    """Format rows (lists of strings) as an aligned text table."""
    widths = [max(len(str(r[i])) for r in [headers] + rows) for i in range(len(headers))]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [line, "-" * len(line)]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(out)


def try_import_torch():
    try:
        import torch
        torch.set_num_threads(2)
        return torch
    except ImportError:
        return None


def peak_rss(reset=False):
    """This process's peak resident set in bytes (Linux VmHWM), optionally reset to the current one first, after
    handing the heap's free memory back to the OS (glibc's malloc_trim): memory that minigrad's allocator settings
    keep for reuse (minigrad/allocator.py) is then counted again when a measured step uses it."""
    if reset:
        try:
            import ctypes
            ctypes.CDLL(None).malloc_trim(0)
        except (OSError, AttributeError):
            pass
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM"))
