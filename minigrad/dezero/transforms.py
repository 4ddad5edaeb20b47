"""DeZero's dezero.transforms: the array transforms (Compose, Normalize, Flatten, AsType, ToFloat, ToInt)."""
from minigrad.transforms import AsType, Compose, Flatten, Normalize, ToFloat, ToInt  # noqa: F401
