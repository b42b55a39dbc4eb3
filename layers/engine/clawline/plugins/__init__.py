"""The plugin system: the ``Plugin`` protocol (``base``), loading from bot YAML or entry points (``loader``),
and running hooks under a time budget with failures isolated (``runner``)."""
