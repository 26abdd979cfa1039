"""Real coding-agent CLIs (Claude Code, Codex) driven through the gateway to the sandbox.

The CLIs are npm packages pinned in package.json / package-lock.json here and installed
into node_modules by install.sh (CI runs it and sets REQUIRE_AGENTS=1). Without the
install the tests skip, unless REQUIRE_AGENTS=1, when they fail.

Each run gets a throwaway HOME under tmp_path, a clean environment (no proxy variables,
no credentials of the machine) and telemetry, update checks and other outbound traffic
turned off, so an agent talks to the gateway's loopback port and to nothing else.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from accounts.models import Organization
from billing import holds
from billing.models import UsageRecord
from proxy import auth, balancer, limits, table
from proxy.routes_file import apply
from sandbox.server import SandboxServer
from tests.processes import wait_for
from tests.proxy.conftest import PRICE, Tenant, make_tenant

AGENTS_DIR = Path(__file__).resolve().parent
NODE_MODULES = AGENTS_DIR / "node_modules"
STAMP = NODE_MODULES / ".jinf-installed"
ARTIFACTS = AGENTS_DIR.parents[1] / "test-artifacts" / "agents"

AGENT_TIMEOUT_S = 120.0
TOOL = "jinf_missing_tool"
# The sandbox answers the first turn with one call to TOOL ({}), and a turn that ends in
# that tool's result with "The tool returned: …".
UPSTREAM_MODEL = f"agent@tool={TOOL}"
FINAL_TEXT = "The tool returned"
PROMPT = f"Call the tool {TOOL} with {{}} and then report what it returned."
# Gateway model name per provider kind; each has one deployment on the sandbox.
MODELS = {"openai": "agent-openai", "anthropic": "agent-anthropic"}


def install_problem() -> str | None:
    """Why the pinned CLIs cannot be used, or None when install.sh has installed them."""
    if not STAMP.is_file():
        return f"{NODE_MODULES} is not installed"
    # The same digest install.sh writes: sha256 of `sha256sum package.json package-lock.json`.
    listing = "".join(
        f"{hashlib.sha256((AGENTS_DIR / name).read_bytes()).hexdigest()}  {name}\n"
        for name in ("package.json", "package-lock.json")
    )
    if STAMP.read_text().strip() != hashlib.sha256(listing.encode()).hexdigest():
        return f"{NODE_MODULES} was installed from another package-lock.json"
    for name in ("claude", "codex"):
        if not os.access(NODE_MODULES / ".bin" / name, os.X_OK):
            return f"{NODE_MODULES}/.bin/{name} is missing"
    return None


@pytest.fixture(scope="session")
def agent_clis() -> Path:
    """node_modules/.bin with `claude` and `codex`; skips (or fails) when not installed."""
    problem = install_problem()
    if problem:
        message = f"{problem}: run `bash tests/agents/install.sh`"
        if os.environ.get("REQUIRE_AGENTS") == "1":
            pytest.fail(f"REQUIRE_AGENTS=1 but {message}.", pytrace=False)
        pytest.skip(f"agent CLIs not installed ({message}; REQUIRE_AGENTS=1 makes this fail)")
    return NODE_MODULES / ".bin"


@pytest.fixture(autouse=True)
def _fresh_proxy_state(settings):
    settings.PROXY_COOLDOWN_S = 30.0
    for forget in (auth._cache.clear, balancer.reset, holds.forget, limits.reset):
        forget()
    table.invalidate()
    yield
    table.invalidate()


@pytest.fixture
def sandbox():
    # System turns inside messages are generally available: Claude Code sends them
    # without the mid-conversation beta, as the real API allows.
    server = SandboxServer(system_turns_need_beta=False).start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Gateway:
    url: str
    sandbox: SandboxServer
    tenant: Tenant

    @property
    def org(self) -> Organization:
        return self.tenant.org


@pytest.fixture
def gateway(asgi_server, sandbox) -> Gateway:
    """The whole app on loopback, a tenant with credit, and one model per provider kind."""
    apply(
        {
            "providers": [
                {"name": "sandbox-openai", "kind": "openai", "base_url": sandbox.url + "/v1",
                 "api_key": "sk-sandbox-openai", "timeout_s": 60},
                {"name": "sandbox-anthropic", "kind": "anthropic", "base_url": sandbox.url,
                 "api_key": "sk-sandbox-anthropic", "timeout_s": 60},
            ],
            "models": [
                {"name": MODELS[kind], "price": PRICE,
                 "deployments": [{"provider": f"sandbox-{kind}", "model": UPSTREAM_MODEL}]}
                for kind in ("openai", "anthropic")
            ],
        }
    )  # fmt: skip
    table.invalidate()
    return Gateway(url=asgi_server.url, sandbox=sandbox, tenant=make_tenant("agents"))


@dataclass
class AgentRun:
    name: str
    argv: list[str]
    returncode: int | None
    timed_out: bool
    elapsed_s: float
    stdout: str
    stderr: str
    home: Path
    env: dict[str, str] = field(repr=False, default_factory=dict)


def run_agent(
    name: str, argv: list[str], *, home: Path, env: dict[str, str], timeout_s: float
) -> AgentRun:
    """Runs one CLI in its own process group, output to files; kills the group at the end.

    Files instead of pipes: a grandchild that keeps a pipe open cannot hang the test.
    """
    work = home / "work"
    work.mkdir(parents=True, exist_ok=True)
    out_path, err_path = home / f"{name}.stdout", home / f"{name}.stderr"
    started = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(
            argv, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            start_new_session=True,
        )  # fmt: skip
        timed_out = False
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    return AgentRun(
        name=name,
        argv=argv,
        returncode=None if timed_out else proc.returncode,
        timed_out=timed_out,
        elapsed_s=time.monotonic() - started,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
        home=home,
        env=env,
    )


def base_env(home: Path) -> dict[str, str]:
    """A clean environment: the machine's PATH (node), a throwaway HOME, nothing else."""
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "NO_PROXY": "127.0.0.1,localhost",
        "NO_COLOR": "1",
        "TERM": "dumb",
    }


def claude_command(bin_dir: Path, gateway: Gateway, model: str, home: Path) -> tuple[list, dict]:
    env = base_env(home) | {
        "ANTHROPIC_BASE_URL": gateway.url,
        "ANTHROPIC_API_KEY": gateway.tenant.secret,
        # The main model, and the one for background/side calls, are both routed names.
        "ANTHROPIC_MODEL": model,
        "ANTHROPIC_SMALL_FAST_MODEL": model,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": model,
        # No telemetry, error reports, update checks, connectivity probes or feature flags.
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        # A rejected request fails the run at once instead of backing off for minutes.
        "CLAUDE_CODE_MAX_RETRIES": "1",
    }
    return [str(bin_dir / "claude"), "-p", PROMPT], env


CODEX_CONFIG = """\
model = "{model}"
model_provider = "jinf"
# Offline: no update check, no analytics, no plugin marketplace sync (a `git ls-remote`).
check_for_update_on_startup = false

[analytics]
enabled = false

[features]
plugins = false

[model_providers.jinf]
name = "jinf gateway"
base_url = "{base_url}"
env_key = "JINF_KEY"
wire_api = "responses"
request_max_retries = 1
stream_max_retries = 1
stream_idle_timeout_ms = 60000
"""


def codex_command(bin_dir: Path, gateway: Gateway, model: str, home: Path) -> tuple[list, dict]:
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text(
        CODEX_CONFIG.format(model=model, base_url=gateway.url + "/v1")
    )
    env = base_env(home) | {"CODEX_HOME": str(codex_home), "JINF_KEY": gateway.tenant.secret}
    # exec's defaults: approval never, read-only sandbox; a home outside git needs the flag.
    return [str(bin_dir / "codex"), "exec", "--skip-git-repo-check", PROMPT], env


COMMANDS = {"claude": claude_command, "codex": codex_command}


def usage_rows(org: Organization) -> list[UsageRecord]:
    return list(UsageRecord.objects.filter(organization=org).order_by("created_at", "id"))


def wait_for_usage(org: Organization, ok: int, timeout_s: float = 10.0) -> list[UsageRecord]:
    """Usage rows are written in batches off the request path: poll for `ok` good ones."""
    wait_for(
        lambda: UsageRecord.objects.filter(organization=org, status="ok").count() >= ok,
        timeout_s=timeout_s,
    )
    return usage_rows(org)


def save_artifacts(test_name: str, run: AgentRun, sandbox: SandboxServer, rows) -> Path:
    """What a failed run saw, for CI: the agent's output, the upstream requests, usage."""
    where = ARTIFACTS / test_name.replace("/", "_").replace("[", "-").rstrip("]")
    where.mkdir(parents=True, exist_ok=True)
    (where / "stdout.txt").write_text(run.stdout)
    (where / "stderr.txt").write_text(run.stderr)
    (where / "command.json").write_text(
        json.dumps({"argv": run.argv, "env": {k: v for k, v in run.env.items() if "KEY" not in k}},
                   indent=2)
    )  # fmt: skip
    (where / "sandbox-requests.json").write_text(
        json.dumps(sandbox.state.requests, indent=2, default=str)
    )
    (where / "usage.json").write_text(
        json.dumps([usage_summary(r) for r in rows], indent=2, default=str)
    )
    return where


def usage_summary(row: UsageRecord) -> dict:
    return {
        "endpoint": row.endpoint,
        "model": row.model,
        "provider": row.provider,
        "status": row.status,
        "http_status": row.http_status,
        "error": row.error,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
    }
