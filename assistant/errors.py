"""Errors a user can cause and fix; the CLI shows their message as one line."""


class AssistantError(Exception):
    """Base class: the message says what went wrong and what to run."""


class NoIndexError(AssistantError):
    pass


class IndexMismatchError(AssistantError):
    """The index was built with another model, dimension or format version."""


class CorruptIndexError(AssistantError):
    pass


class EmptyCorpusError(AssistantError):
    pass


class IndexBusyError(AssistantError):
    """Another process holds the writer lock of the index."""


class UnknownChoiceError(AssistantError, ValueError):
    """A reader, embedder, backend or answerer name that no registry holds."""


class UnknownDocumentError(AssistantError):
    """A document filter names a document the index does not hold."""


class QuestionError(AssistantError):
    """A question (or search query) no face processes: empty, too long, or not valid text."""
