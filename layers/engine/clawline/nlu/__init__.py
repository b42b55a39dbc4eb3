"""Natural-language understanding: intent classification, entity extraction, out-of-scope detection."""
