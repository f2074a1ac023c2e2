"""User-side examples the platform is demonstrated and tested against (not part of the platform)."""
