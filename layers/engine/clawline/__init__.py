"""Clawline: a serverless conversational bot engine.

Nothing is imported here on purpose: every Lambda function imports only the modules it needs,
so that the WebSocket, MQTT and authorizer functions keep a small cold start.
"""

__version__ = "0.1.0"
