"""Claude Code and Codex, on their default settings, complete the tool loop through the
gateway, on an OpenAI-kind and on an Anthropic-kind model.

The sandbox answers the agent's first turn with a call to a tool the agent does not have
(`jinf_missing_tool`, `{}`); the agent answers with its own tool error; the sandbox then
says "The tool returned: …" and the agent prints it and exits 0.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.agents.conftest import (
    AGENT_TIMEOUT_S,
    COMMANDS,
    FINAL_TEXT,
    MODELS,
    TOOL,
    UPSTREAM_MODEL,
    AgentRun,
    Gateway,
    run_agent,
    save_artifacts,
    usage_summary,
    wait_for_usage,
)

pytestmark = [pytest.mark.agents, pytest.mark.timeout(AGENT_TIMEOUT_S + 60)]

UPSTREAM_PATHS = ("/v1/messages", "/v1/chat/completions", "/v1/responses")


def _items(body: dict, path: str) -> list[dict]:
    if path.endswith("/responses"):
        items = body.get("input")
        return items if isinstance(items, list) else []
    return body.get("messages") or []


def calls_and_results(path: str, body: dict | None) -> tuple[set[str], set[str]]:
    """(ids of calls to TOOL, ids answered by a tool result) in one upstream request body."""
    calls: set[str] = set()
    results: set[str] = set()
    for item in _items(body or {}, path):
        if not isinstance(item, dict):
            continue
        if path.endswith("/messages"):  # Anthropic Messages
            for block in item.get("content") if isinstance(item.get("content"), list) else []:
                if not isinstance(block, dict):
                    continue
                if block.get("type") == "tool_use" and block.get("name") == TOOL:
                    calls.add(block.get("id"))
                elif block.get("type") == "tool_result":
                    results.add(block.get("tool_use_id"))
        elif path.endswith("/chat/completions"):
            for call in item.get("tool_calls") or []:
                if (call.get("function") or {}).get("name") == TOOL:
                    calls.add(call.get("id"))
            if item.get("role") == "tool":
                results.add(item.get("tool_call_id"))
        else:  # Responses input items
            if item.get("type") == "function_call" and item.get("name") == TOOL:
                calls.add(item.get("call_id"))
            elif item.get("type") == "function_call_output":
                results.add(item.get("call_id"))
    return calls, results


def answers_the_tool(record: dict) -> bool:
    """Whether an upstream request carries a tool result for a call to TOOL."""
    calls, results = calls_and_results(record["path"], record["body"])
    return bool(calls & results)


def upstream_calls(gateway: Gateway) -> list[dict]:
    return [
        r
        for r in gateway.sandbox.state.requests
        if r["path"] in UPSTREAM_PATHS and r["model"] == UPSTREAM_MODEL
    ]


def describe(run: AgentRun, gateway: Gateway, rows, artifacts) -> str:
    def tail(text: str, size: int = 2500) -> str:
        text = text.strip()
        return text if len(text) <= size else "…" + text[-size:]

    said = "\n".join(
        line
        for line in (run.stdout + "\n" + run.stderr).splitlines()
        if FINAL_TEXT not in line
        and re.search(r"error|status|\b[45]\d\d\b|invalid|unsupported|reject", line, re.I)
    )
    upstream = []
    for r in gateway.sandbox.state.requests:
        calls, results = calls_and_results(r["path"], r["body"])
        upstream.append(
            f"  {r['method']} {r['path']} model={r['model']!r} status={r['status']} "
            f"tool calls={len(calls)} tool results for {TOOL}={len(calls & results)}"
        )
    state = "timed out" if run.timed_out else f"exit {run.returncode}"
    return "\n".join(
        [
            f"{run.name} ({state} after {run.elapsed_s:.1f} s): {' '.join(run.argv)}",
            "--- what the agent reported about errors (gateway/upstream answers):",
            tail(said, 2000) or "  (nothing)",
            "--- gateway usage rows:",
            *(f"  {json.dumps(usage_summary(r))}" for r in rows),
            "--- requests the sandbox (upstream) received:",
            *(upstream or ["  (none: the gateway sent nothing upstream)"]),
            "--- agent stdout (tail):",
            tail(run.stdout),
            "--- agent stderr (tail):",
            tail(run.stderr),
            f"--- full output, upstream requests and usage saved in {artifacts}",
        ]
    )


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
@pytest.mark.parametrize("agent", ["claude", "codex"])
def test_agent_completes_the_tool_loop(agent, kind, agent_clis, gateway, tmp_path, request):
    model = MODELS[kind]
    home = tmp_path / "home"
    home.mkdir()
    argv, env = COMMANDS[agent](agent_clis, gateway, model, home)

    run = run_agent(agent, argv, home=home, env=env, timeout_s=AGENT_TIMEOUT_S)

    rows = wait_for_usage(gateway.org, ok=2, timeout_s=10.0 if run.returncode == 0 else 3.0)
    calls = upstream_calls(gateway)
    first_without_result = bool(calls) and not answers_the_tool(calls[0])
    answered = [r for r in calls[1:] if answers_the_tool(r)]
    problems = []
    if run.timed_out:
        problems.append(f"the agent did not finish within {AGENT_TIMEOUT_S:.0f} s")
    elif run.returncode != 0:
        problems.append(f"the agent exited {run.returncode}")
    if FINAL_TEXT not in run.stdout:
        problems.append(f"its stdout lacks the sandbox's final text {FINAL_TEXT!r}")
    if not first_without_result:
        problems.append("the sandbox got no first request without a tool result")
    if not answered:
        problems.append(f"no later upstream request carried the agent's result for {TOOL}")
    ok_rows = [r for r in rows if r.status == "ok" and r.model == model]
    if len(ok_rows) < 2:
        problems.append(f"the gateway recorded {len(ok_rows)} ok usage rows for {model}, not ≥ 2")
    bad_rows = [r for r in rows if r.status != "ok"]
    if bad_rows:
        first = bad_rows[0]
        problems.append(
            f"the gateway recorded {len(bad_rows)} failed request(s), the first "
            f"{first.status} {first.http_status} via {first.provider or '(before routing)'}: "
            f"{first.error[:300]}"
        )
        if agent == "claude" and run.returncode == 0 and "role" in first.error:
            problems.append(
                'Claude Code recognised that refusal of its {"role":"system"} turn and re-sent the '
                "turn without it (its own fallback), so the loop finished on a degraded request"
            )
    if problems:
        artifacts = save_artifacts(request.node.name, run, gateway.sandbox, rows)
        pytest.fail(
            f"{agent} via {kind}-kind model {model!r}: "
            + "; ".join(problems)
            + "\n"
            + describe(run, gateway, rows, artifacts),
            pytrace=False,
        )
