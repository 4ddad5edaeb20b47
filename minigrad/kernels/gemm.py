"""The BLAS GEMM called from compiled kernels: NumPy's bundled cblas ?gemm, by its address (blas.gemm_address)."""
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from minigrad.kernels import JIT_EXACT
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
