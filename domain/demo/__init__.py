"""Demo tenants: realistic, reproducible records for trying Renshi out and for benchmarks."""
