from tests.webhook_receiver import receiver  # noqa: F401 - the local receiver fixture
from tests.worker_process import start_worker  # noqa: F401 - the real worker fixture
