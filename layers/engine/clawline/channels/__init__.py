"""Channel adapters: turn each protocol's payload into an ``InboundMessage`` and a ``Reply`` back into frames.

The Lambda handlers in ``functions/`` stay thin by calling these.
"""
