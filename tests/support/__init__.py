"""Helpers the tests share: apps and databases, a browser-like client, the real browser."""
