"""Command line: `python -m minigrad check` runs the gradient checks of every Function's spec."""
import argparse
import sys

from minigrad.gradcheck import check_gradients, check_second_gradients
from minigrad.specs import SPECS


def check(specs=SPECS, out=sys.stdout):
    """Print one row per spec (first and second derivatives); return the number of failures."""
    width = max(len(s.label) for s in specs)
    header = f"{'Function [options]':<{width}} {'inputs':>6}  {'grad max abs':>12} {'max rel':>9}  " \
             f"{'gradgrad max abs':>16} {'max rel':>9}  result"
    print(header, file=out)
    print("-" * len(header), file=out)
    failures = 0
    for spec in specs:
        inputs = spec.inputs()
        first = check_gradients(spec.fn, inputs, atol=spec.atol, rtol=spec.rtol)
        second = check_second_gradients(spec.fn, inputs, atol=spec.atol, rtol=spec.rtol)
        error = first["error"] or second["error"]
        failures += error is not None
        print(f"{spec.label:<{width}} {first['checked']:>6}  {first['max_abs']:>12.2e} {first['max_rel']:>9.2e}  "
              f"{second['max_abs']:>16.2e} {second['max_rel']:>9.2e}  {'FAIL' if error else 'pass'}",
              file=out)
        if error:
            print(f"    {error}", file=out)
    functions = len({s.name for s in specs})
    print(f"\n{len(specs) - failures} of {len(specs)} rows ({functions} Functions) pass gradcheck and "
          f"gradgradcheck (float64, central differences, random upstream gradients)", file=out)
    return failures


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m minigrad", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="gradient-check every registered Function on its spec inputs")
    parser.parse_args(argv)
    return 1 if check() else 0


if __name__ == "__main__":
    sys.exit(main())
