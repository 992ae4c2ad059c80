"""Speed and accuracy comparisons; ``make bench`` runs ``python -m benchmarks``."""
