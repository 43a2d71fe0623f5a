"""Simulated municipal source APIs: one synthetic municipality served the way the real APIs serve it."""
