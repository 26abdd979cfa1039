"""Hosts of their own on one machine: a Linux bridge in the root namespace and one network
namespace per host, joined to it by a veth pair, each with its own address.

    net = Network(hosts=3).create()    # bridge 10.77.X.1, hosts 10.77.X.10, .11, .12
    net.exec(0, ["uvicorn", ...])      # argv that runs the command inside host 0
    net.destroy()                      # namespaces (their veths go with them), bridge

Names carry the test process's pid and a counter, and the subnet is one no interface of
the machine uses, so two runs at once (or a second run after a crash) do not collide. A
run that was SIGKILLed cannot clean up; `sweep()` removes what processes that no longer
exist left behind.
"""

import ipaddress
import itertools
import os
import re
import shutil
import subprocess

PATH = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
NETNS_PREFIX = "jinf-t-"
_counter = itertools.count()
_LEFTOVER_NETNS = re.compile(rf"^{NETNS_PREFIX}(\d+)-")
_LEFTOVER_BRIDGE = re.compile(r"^j(\d+)[a-z]b$")


def tool(name: str) -> str | None:
    return shutil.which(name, path=PATH)


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [tool("ip") or "ip", *args], capture_output=True, text=True, check=check, timeout=10
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep() -> None:
    """Removes the namespaces and bridges of test runs whose process is gone."""
    for line in ip("netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        match = _LEFTOVER_NETNS.match(name)
        if match and not _alive(int(match.group(1))):
            ip("netns", "del", name, check=False)
    for line in ip("-o", "link", "show", "type", "bridge", check=False).stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
        match = _LEFTOVER_BRIDGE.match(name)
        if match and not _alive(int(match.group(1))):
            ip("link", "del", name, check=False)


def _free_subnet(seed: int) -> ipaddress.IPv4Network:
    used = [
        ipaddress.ip_interface(word).network
        for line in ip("-4", "-o", "addr", "show").stdout.splitlines()
        for word in line.split()[3:4]
    ]
    for offset in range(230):
        net = ipaddress.ip_network(f"10.77.{20 + (seed + offset) % 230}.0/24")
        if not any(net.overlaps(u) for u in used):
            return net
    raise RuntimeError("No free 10.77.X.0/24 subnet for the test's hosts.")


class Network:
    def __init__(self, hosts: int) -> None:
        pid, n = os.getpid(), next(_counter)
        self.base = f"j{pid}{chr(ord('a') + n % 26)}"  # ≤ 9 characters; links allow 15
        self.bridge = self.base + "b"
        self.namespaces = [f"{NETNS_PREFIX}{pid}-{n}-{i}" for i in range(hosts)]
        self.subnet = _free_subnet(pid * 7 + n)
        self.gateway_ip = str(self.subnet[1])  # the bridge: the root namespace's address
        self.host_ips = [str(self.subnet[10 + i]) for i in range(hosts)]
        self._created: list[tuple[str, ...]] = []  # undo steps, last first

    def create(self) -> "Network":
        try:
            self._create()
        except BaseException:
            self.destroy()
            raise
        return self

    def _create(self) -> None:
        prefix = self.subnet.prefixlen
        ip("link", "add", self.bridge, "type", "bridge")
        self._created.append(("link", "del", self.bridge))
        ip("addr", "add", f"{self.gateway_ip}/{prefix}", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for i, (ns, address) in enumerate(zip(self.namespaces, self.host_ips, strict=True)):
            outside, inside = f"{self.base}h{i}", f"{self.base}n{i}"
            ip("netns", "add", ns)
            self._created.append(("netns", "del", ns))  # takes its veth pair with it
            ip("link", "add", outside, "type", "veth", "peer", "name", inside)
            self._created.append(("link", "del", outside))
            ip("link", "set", inside, "netns", ns)
            ip("link", "set", outside, "master", self.bridge, "up")
            ip("-n", ns, "addr", "add", f"{address}/{prefix}", "dev", inside)
            ip("-n", ns, "link", "set", inside, "up")
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "route", "add", "default", "via", self.gateway_ip)

    def exec(self, host: int, argv: list[str]) -> list[str]:
        """argv run inside host `host`'s namespace (`ip netns exec` execs it: same pid)."""
        return [tool("ip") or "ip", "netns", "exec", self.namespaces[host], *argv]

    def destroy(self) -> None:
        while self._created:
            ip(*self._created.pop(), check=False)
