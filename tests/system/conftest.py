import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from mpp import Env  # noqa: E402


@pytest.fixture
def env(tmp_path):
    os.chmod(tmp_path, 0o755)
    e = Env(tmp_path)
    yield e
    e.stop_all()
