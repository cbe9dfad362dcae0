"""Named exceptions of the model package; the CLI turns each into one line on stderr."""


class ModelError(Exception):
    """The model cannot be loaded or run: a broken checkpoint, a bad option, an unsupported config."""


class ModelNotAvailable(ModelError):
    """The model is neither a local folder nor in the Hugging Face cache, and cannot be downloaded."""
