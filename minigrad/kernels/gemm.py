"""The BLAS GEMM called from compiled kernels: NumPy's bundled cblas ?gemm, by its address (blas.gemm_address)."""
import numpy as np
from llvmlite import ir
from numba import cfunc, njit, types
from numba.extending import intrinsic

from minigrad import blas
from minigrad.kernels import JIT_EXACT, native
from minigrad.kernels.fmath import cast

NO, TRANS = 111, 112  # cblas: an operand as it lies, or transposed


@intrinsic
def _call(typingctx, addr, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """cblas_?gemm(row-major, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) at addr, with 64-bit sizes and
    the operands' addresses as integers; alpha and beta in the GEMM's real type."""
    real = alpha
    sig = types.void(types.int64, types.int64, types.int64, types.int64, types.int64, types.int64, real,
                     types.int64, types.int64, types.int64, types.int64, real, types.int64, types.int64)

    def codegen(context, builder, signature, args):
        addr, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc = args
        i32, i64, ptr = ir.IntType(32), ir.IntType(64), ir.IntType(8).as_pointer()
        rt = context.get_value_type(real)
        fnty = ir.FunctionType(ir.VoidType(), [i32, i32, i32, i64, i64, i64, rt, ptr, i64, ptr, i64, rt, ptr, i64])
        fn = builder.inttoptr(addr, fnty.as_pointer())
        builder.call(fn, [ir.Constant(i32, 101), builder.trunc(ta, i32), builder.trunc(tb, i32), m, n, k, alpha,
                          builder.inttoptr(a, ptr), lda, builder.inttoptr(b, ptr), ldb, beta,
                          builder.inttoptr(c, ptr), ldc])
        return context.get_dummy_value()
    return sig, codegen


@njit(**JIT_EXACT)
def gemm(addr, ta, tb, m, n, k, a, lda, b, ldb, c, ldc, accumulate, x):
    """c = op(a) @ op(b) (c += with accumulate) for the (m, k), (k, n) and (m, n) operands at the given addresses
    and leading dimensions, in the dtype of the array x (float32 or float64), by the GEMM at addr."""
    _call(addr, ta, tb, m, n, k, cast(x, 1.0), a, lda, b, ldb, cast(x, 1.0 if accumulate else 0.0), c, ldc)


@njit(**JIT_EXACT)
def _product_part(f, z):
    i, lo, hi, j = native.span(f)
    addr, j = native.integer(f, j)
    j += 11 * i  # this part's product
    gemm(addr, f[j], f[j + 1], f[j + 2], f[j + 3], f[j + 4], f[j + 5], f[j + 6], f[j + 7], f[j + 8], f[j + 9],
         f[j + 10], False, np.full(1, z))


@cfunc(native.ENTRY, **JIT_EXACT)
def _product_entry(p):
    f = native.frame(p)
    if f[f.size - 1]:
        _product_part(f, 0.0)
    else:
        _product_part(f, np.float32(0.0))


def side_by_side(products):
    """c = a @ b for each (a, b, c) (blas.gemm_fields' operands, one float32 or float64 dtype) at once, each product
    on its own thread with OpenBLAS at one thread: the two of a Linear's backward took 5-20% less time so than one
    after the other on two threads, at (2048, 128-512) x (128-512, 128-512). False, having done nothing, where a
    layout does not fit."""
    dtype = products[0][2].dtype
    fields = [blas.gemm_address(dtype)]
    for a, b, c in products:
        got = blas.gemm_fields(a, b, c) if a.dtype == b.dtype == c.dtype == dtype else None
        if got is None or not fields[0]:
            return False
        fields += got
    with blas.single_thread():
        native.run(_product_entry, len(products), len(products), fields + [dtype == np.float64])
    return True
