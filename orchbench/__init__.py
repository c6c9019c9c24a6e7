"""orchbench."""
