"""Mode 2: OpenAPI documents to typed SDKs compiled to WebAssembly components, and the host that runs them."""
