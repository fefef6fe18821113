"""`make bench`: how fast, how light, how far it scales (docs/performance.md)."""
