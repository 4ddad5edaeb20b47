"""Shared fixtures: the fused losses whole and in small blocks; the CuPy the GPU tests run on (real or stand-in)."""
import os
import shutil
import pathlib
import sys
import threading

import pytest

import minigrad as mg
import minigrad.losses.bce as bce
import minigrad.losses.ce as ce
from minigrad import backend


@pytest.fixture(params=["whole", "blocked"])
def blocks(request, monkeypatch):
    """'blocked' shrinks the losses' row blocks so that every test array spans several blocks and threads."""
    if request.param == "blocked":
        monkeypatch.setattr(ce, "BLOCK", 4)
        monkeypatch.setattr(bce, "BLOCK", 4)
    return request.param


STANDIN = pathlib.Path(__file__).parent / "standin"
REAL_GPU = mg.gpu_available()  # a real CuPy that sees a GPU: the GPU tests run on it
if not REAL_GPU:  # the fused kernels run in numba's CUDA simulator (read when numba is first imported)
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")


@pytest.fixture
def cupy():
    """The CuPy the GPU tests run on: the real one where a GPU is found, else the strict stand-in in
    tests/standin (NumPy underneath, CuPy's rules on top, host synchronisations counted in cupy.SYNCS)."""
    if REAL_GPU:
        yield backend._load_cupy()
        return
    names = [name for name in sys.modules if name.split(".")[0] in ("cupy", "cupyx")]
    saved = {name: sys.modules.pop(name) for name in names}
    state = backend._cupy, backend._cupy_error
    sys.path.insert(0, str(STANDIN))
    try:
        backend._cupy = backend._cupy_error = None
        assert backend.gpu_available(), backend.gpu_unavailable_reason()
        module = backend._load_cupy()
        assert module.__version__.endswith("standin")
        module.SYNCS.clear()
        yield module
    finally:
        sys.path.remove(str(STANDIN))
        for name in [name for name in sys.modules if name.split(".")[0] in ("cupy", "cupyx")]:
            del sys.modules[name]
        sys.modules.update(saved)
        backend._cupy, backend._cupy_error = state


def standin_env():
    """The environment for a child process that should see the stand-in as cupy (unchanged with a real GPU)."""
    env = dict(os.environ)
    env.pop("NUMBA_ENABLE_CUDASIM", None)  # the array path: the simulator runs a Python thread per GPU thread
    if not REAL_GPU:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(STANDIN), env.get("PYTHONPATH")]))
    return env


def mpiexec():
    """mpiexec beside this Python (the [mpi] extra's mpich wheel puts it there), else on PATH; the test is skipped,
    with the reason, where mpi4py or an mpiexec is missing."""
    pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install 'minigrad[mpi]')")
    found = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = found if os.path.exists(found) else shutil.which("mpiexec")
    if found is None:
        pytest.skip("no mpiexec: install an MPI (pip install 'minigrad[mpi]' brings mpich's)")
    return found


def in_threads(fn, n=4, repeats=1):
    """fn(i) for i in range(n), each i in its own thread, `repeats` times over, all threads at once; the result of
    each thread's last call (None where a thread raised: its traceback is printed)."""
    results = [None] * n

    def work(i):
        for _ in range(repeats):
            results[i] = fn(i)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
