"""gunicorn settings of the ``--preload`` inbox tests: the ``post_fork`` hook notes, in the
handlers' log, when each worker has run it (``post_fork - <pid>``), after a pause as an app's
reconnecting to its database would take."""

import os
import time


def post_fork(server: object, worker: object) -> None:
    time.sleep(0.3)
    fd = os.open(os.environ["INBOX_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"post_fork - {os.getpid()}\n".encode())
    finally:
        os.close(fd)
