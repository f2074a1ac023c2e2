"""The embedded dev stack and the demo data."""
