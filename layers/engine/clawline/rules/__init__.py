"""The rule engine: CEL conditions compiled once per cold start, indexed so a message evaluates few of them."""
