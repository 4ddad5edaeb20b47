"""The op implementations: each module holds Functions and their snake_case wrappers; minigrad.functions re-exports them."""
