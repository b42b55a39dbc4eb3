"""Bot definitions: the YAML format (``models``), its loader with file/line errors (``loader``), Rasa import."""
