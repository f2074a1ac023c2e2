"""The on-premise agent: a Temporal worker serving its own task queue."""
