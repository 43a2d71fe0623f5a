"""Benchmark harness: the gateway against a hand-written minimum over the demo sources (``python -m bench.run``)."""
