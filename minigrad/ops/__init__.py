"""The op implementations, a module per family of Functions; minigrad.functions re-exports them."""
