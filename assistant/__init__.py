"""Offline question answering over cooperation articles, answering in quotes of its sources."""

__version__ = "0.1.0"
