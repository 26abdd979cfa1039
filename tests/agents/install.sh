#!/usr/bin/env bash
# Installs the pinned agent CLIs (package-lock.json) into tests/agents/node_modules.
#
# Idempotent: does nothing when node_modules was installed from this very lockfile and both
# CLIs answer --version. Every step is bounded with `timeout`. npm 11 does not run Claude
# Code's post-install step (install.cjs, which copies the native binary out of the platform
# package over bin/claude.exe), so it is run here.
set -euo pipefail
cd "$(dirname "$0")"

NPM_TIMEOUT_S=${NPM_TIMEOUT_S:-900}
STAMP=node_modules/.jinf-installed

say() { printf 'tests/agents/install.sh: %s\n' "$*"; }

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  say "node/npm missing; installing Debian's nodejs and npm."
  timeout 300 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq nodejs npm >/dev/null
fi

want="$(sha256sum package.json package-lock.json | sha256sum | cut -d' ' -f1)"

versions() {
  # Both CLIs, run with a throwaway HOME so that nothing is written to the real one.
  local home status=0
  home="$(mktemp -d)"
  HOME="$home" CODEX_HOME="$home" timeout 60 node_modules/.bin/claude --version || status=$?
  HOME="$home" CODEX_HOME="$home" timeout 60 node_modules/.bin/codex --version 2>/dev/null || status=$?
  rm -rf "$home"
  return "$status"
}

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && versions >/dev/null 2>&1; then
  say "up to date ($(versions 2>/dev/null | tr '\n' ' '))"
  exit 0
fi

say "npm ci (node $(node --version), npm $(npm --version))"
rm -f "$STAMP"
timeout "$NPM_TIMEOUT_S" npm ci --no-audit --no-fund --loglevel=error

say "Claude Code's post-install step (install.cjs)"
timeout 120 node node_modules/@anthropic-ai/claude-code/install.cjs

versions
printf '%s\n' "$want" >"$STAMP"
say "installed"
