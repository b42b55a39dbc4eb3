"""Adapters for the ``ConversationStore`` port (in-memory for unit tests and the CLI, DynamoDB for Lambda)."""
