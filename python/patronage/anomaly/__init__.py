"""Anomaly scoring: unsupervised detectors and per-customer transaction risk."""
