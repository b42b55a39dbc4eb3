"""Looks a record up in a DynamoDB table by a slot value (order status, account)."""

from plugins.lookup.plugin import LookupPlugin

__all__ = ["LookupPlugin"]
