# dcllm.DcllmError, in Python so that the extension (dcllm._core) can raise it with the C API's
# status, its name and the library's one-line message.


class DcllmError(RuntimeError):
    """A failed dcllm call: .status (int), .code (its name) and the library's one-line message."""

    def __init__(self, status: int, code: str, message: str = ""):
        self.status = status
        self.code = code
        super().__init__(f"{message} ({code})" if message else code)
