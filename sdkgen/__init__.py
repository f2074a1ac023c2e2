"""OpenAPI to SDK to WebAssembly (Mode 2); not built yet."""
