"""Side effects: connectors, buffer, crypto, metadata, transforms and the activities that use them."""
