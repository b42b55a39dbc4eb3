"""Clawline: a serverless conversational bot engine.

Nothing is imported here on purpose (``gc_pause`` aside, which needs only standard modules that every function
loads anyway): every Lambda function imports only the modules it needs, so that the WebSocket, MQTT and
authorizer functions keep a small cold start.
"""

from clawline import gc_pause

__version__ = "0.1.0"

# In a Lambda environment the cold start (this import on, to the end of the first invocation) runs without cyclic
# garbage collections that would free nearly nothing: clawline.gc_pause.
gc_pause.pause()
