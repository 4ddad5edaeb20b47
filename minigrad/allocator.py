"""glibc's malloc set to keep freed NumPy buffers for reuse instead of handing them back to the OS at every free."""
import ctypes
import os

# mallopt's parameters (malloc.h) and the values set: buffers under MMAP_THRESHOLD come from the heap, and up to
# TRIM_THRESHOLD of free memory at its top is kept. glibc's defaults (128 KiB, adapting up to 32 MiB) give a
# training step's arrays of a few MB fresh pages each time, and each first write to a fresh 4 KiB page is a page
# fault that also zeroes it: about 15% of a GPT step here (benchmarks/bench_transformer.py).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD, TRIM_THRESHOLD = 64 << 20, 256 << 20

applied = False


def _glibc():
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (AttributeError, ValueError, OSError):  # not a POSIX system, or no such name
        return False


def keep_freed_memory():
    """Set glibc's thresholds (above) once; True where they were set. Does nothing (False) off glibc, or with
    MINIGRAD_KEEP_FREED_MEMORY=0 in the environment (the process then returns freed memory as glibc decides)."""
    global applied
    if applied:
        return True
    if os.environ.get("MINIGRAD_KEEP_FREED_MEMORY", "1") == "0" or not _glibc():
        return False
    try:
        libc = ctypes.CDLL(None)
        applied = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) & bool(
            libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    except (OSError, AttributeError):
        applied = False
    return applied
