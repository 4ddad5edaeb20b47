"""Newton's method with second derivatives from minigrad (backward with create_graph=True).

Minimises f(x) = x^4 - 2x^2 in one dimension and the Rosenbrock function in two, comparing the
number of steps Newton needs with plain gradient descent.
"""
import argparse

import numpy as np

import minigrad as mg


def quartic(x):
    return x ** 4 - 2 * x ** 2


def rosenbrock(x):
    x0, x1 = x[0], x[1]
    return 100 * (x1 - x0 ** 2) ** 2 + (1 - x0) ** 2


def newton_1d(x0, steps):
    """x <- x - f'(x) / f''(x), both derivatives by backpropagation."""
    x = mg.Variable(np.array(x0))
    rows = []
    for i in range(steps):
        y = quartic(x)
        (gx,) = mg.grad(y, [x], create_graph=True)
        (gx2,) = mg.grad(gx, [x])
        rows.append((i, float(x.data), float(y.data), float(gx.data), float(gx2.data)))
        x = mg.Variable(x.data - gx.data / gx2.data)
    return rows


def gradient_and_hessian(f, x):
    y = f(x)
    (g,) = mg.grad(y, [x], create_graph=True)
    H = np.stack([mg.grad(g[i], [x])[0].data for i in range(x.size)])
    return y, g.data, H


def newton_nd(f, x0, tol, max_steps):
    x = mg.Variable(np.array(x0))
    for i in range(max_steps):
        y, g, H = gradient_and_hessian(f, x)
        if np.linalg.norm(g) < tol:
            return i, x.data, float(y.data)
        x = mg.Variable(x.data - np.linalg.solve(H, g))
    return max_steps, x.data, float(f(x).data)


def gradient_descent(f, x0, lr, tol, max_steps):
    x = mg.Variable(np.array(x0))
    for i in range(max_steps):
        y = f(x)
        y.backward()
        if np.linalg.norm(x.grad.data) < tol:
            return i, x.data, float(y.data)
        x = mg.Variable(x.data - lr * x.grad.data)
    return max_steps, x.data, float(f(x).data)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=7, help="Newton steps on the quartic")
    parser.add_argument("--max-gd-steps", type=int, default=50000, help="gradient-descent step limit")
    args = parser.parse_args(argv)

    print("Newton's method on f(x) = x^4 - 2x^2 from x = 2 (minimum at x = 1, f = -1)")
    print(f"{'step':>4} {'x':>20} {'f(x)':>12} {'df/dx':>12} {'d2f/dx2':>10}")
    for i, x, y, g, g2 in newton_1d(2.0, args.steps):
        print(f"{i:>4} {x:>20.15f} {y:>12.8f} {g:>12.3e} {g2:>10.4f}")

    start, tol = [-1.2, 1.0], 1e-8
    print(f"\nRosenbrock 100(y - x^2)^2 + (1 - x)^2 from {start}, until |grad| < {tol:g}")
    n, x, y = newton_nd(rosenbrock, start, tol, 100)
    print(f"  Newton (Hessian by double backward): {n:>6} steps  x = {np.round(x, 10)}  f = {y:.2e}")
    n, x, y = gradient_descent(rosenbrock, start, 1e-3, tol, args.max_gd_steps)
    print(f"  gradient descent (lr 1e-3):         {n:>6} steps  x = {np.round(x, 6)}  f = {y:.2e}"
          + ("  (step limit)" if n == args.max_gd_steps else ""))


if __name__ == "__main__":
    main()
