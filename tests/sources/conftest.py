"""Fixtures of the source tests: certificates from one private CA, and a real nginx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from nginx_servers import Nginx, running_nginx
from probe_servers import Certs, make_certs


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    """A CA, a valid, an expired and a wrong-host certificate (see make_certs)."""
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    """A real nginx of its own (config, port, pid file, logs under tmp_path)."""
    with running_nginx(tmp_path) as server:
        yield server
