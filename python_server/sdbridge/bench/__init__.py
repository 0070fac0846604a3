"""Benchmarks behind `sdbridge bench ...`: ratios against baselines measured in the same run."""
