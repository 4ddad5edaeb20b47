"""DeZero's dezero.dataloaders: DataLoader (shuffled by NumPy's global generator) and SeqDataLoader."""
import importlib.util

from minigrad.data import DataLoader, SeqDataLoader  # noqa: F401

pil_available = importlib.util.find_spec("PIL") is not None
