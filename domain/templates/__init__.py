"""Industry template packs, kept as data files and validated on load."""
