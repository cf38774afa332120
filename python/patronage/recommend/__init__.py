"""Recommendations: implicit-feedback collaborative filtering and ranking metrics."""
