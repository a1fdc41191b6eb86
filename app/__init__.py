"""genai-platform: the HTTP platform around the use-case chains."""

__version__ = "0.1.0"
