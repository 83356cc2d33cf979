from tests.worker_process import start_worker  # noqa: F401 - the real worker fixture
