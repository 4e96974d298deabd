"""Benchmarks behind `localpose bench`: side-by-side runs in one process tree, JSON results."""
