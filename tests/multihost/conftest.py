"""Fixtures of the several-hosts tests: the cluster (tests.multihost.cluster), and the
figures each test reports, printed at the end of the run whatever pytest captured."""

import os

import pytest

from tests.multihost.cluster import Cluster
from tests.multihost.netns import tool
from tests.multiproc import needs_shared_services

HOSTS = 3
_figures: list[tuple[str, dict]] = []


def needs_namespaces() -> None:
    """Skips without root, iproute2 or HAProxy; fails instead under REQUIRE_SHARED=1 (the
    second pass of .ci/run, which installs both from Debian)."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root (for ip netns)")
    missing += [f"{name} ({package})" for name, package in
                (("ip", "Debian's iproute2"), ("haproxy", "Debian's haproxy")) if not tool(name)]  # fmt: skip
    if missing:
        why = "the several-hosts test needs " + ", ".join(missing)
        if os.environ.get("REQUIRE_SHARED") == "1":
            pytest.fail("REQUIRE_SHARED=1 but " + why)
        pytest.skip(why)


@pytest.fixture
def cluster(transactional_db, tmp_path):
    needs_shared_services()
    needs_namespaces()
    with Cluster(HOSTS, tmp_path) as c:
        yield c


@pytest.fixture
def figures(request):
    """`figures({"requests": 120, ...})`: kept for the run's summary, and printed."""

    def report(values: dict) -> None:
        _figures.append((request.node.name, values))
        print(request.node.name, values)

    return report


def pytest_terminal_summary(terminalreporter) -> None:
    if not _figures:
        return
    terminalreporter.write_sep("=", "several hosts behind HAProxy: figures")
    for name, values in _figures:
        terminalreporter.write_line(name)
        for key, value in values.items():
            terminalreporter.write_line(f"    {key}: {value}")
