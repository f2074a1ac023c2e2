"""The control plane: the vsc CLI (and, later, the REST API)."""
