"""Conversation tests: YAML stories run against the in-process engine or a running endpoint, JUnit XML out."""
