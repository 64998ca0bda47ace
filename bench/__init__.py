"""Benchmarks for the feedback bot: ``python -m bench.run`` (``make bench``).

Everything here measures; nothing asserts on time. The machine these run on is shared and
noisy, so every number is a median over repetitions and comparisons are given as ratios.
Results are written to ``docs/benchmarks.md``.
"""
