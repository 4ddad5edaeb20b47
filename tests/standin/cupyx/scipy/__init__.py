"""cupyx.scipy for the CuPy stand-in: the special functions minigrad calls."""
