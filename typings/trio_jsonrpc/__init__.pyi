# trio-jsonrpc ships no type information; tgo-host uses only its transport interface
# (see transport/__init__.pyi). Read by mypy through `mypy_path` in pyproject.toml.
