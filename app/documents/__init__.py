"""Documents clients upload: their text, for the use cases that read them."""
