"""The gateway's databases for the bench: a fresh SQLite file, the cached big SQLite file,
and a fresh Postgres database with Redis (`DATABASE_URL` / `REDIS_URL` as in production)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from bench.targets import PROJECT_PY, ROOT, gateway_env, manage

CACHE = ROOT / "bench" / ".cache"
PG_URL = "postgres://postgres@127.0.0.1:5432/jinf_bench"
REDIS_URL = "redis://127.0.0.1:6379/14"


def sqlite_empty(workdir: Path) -> dict[str, str]:
    return gateway_env(f"sqlite:///{workdir / 'gateway.sqlite3'}")


def _schema_tag() -> str:
    """Changes when any migration does, so a stale cached database is rebuilt."""
    names = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("*/migrations/0*.py"))
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode() + (ROOT / name).read_bytes())
    return digest.hexdigest()[:12]


def sqlite_big(workdir: Path, keys: int = 100_000, usage: int = 10_000_000) -> dict[str, str]:
    """The big database, built once into bench/.cache/ (minutes) and reused in place:
    each run adds its few thousand usage rows to it, which changes nothing measurable."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"bigdb-{keys}-{usage}-{_schema_tag()}.sqlite3"
    env = gateway_env(f"sqlite:///{path}")
    if not path.exists():
        for stale in CACHE.glob(f"bigdb-{keys}-{usage}-*.sqlite3*"):
            stale.unlink()
        building = path.with_suffix(".building")
        building.unlink(missing_ok=True)
        build_env = gateway_env(f"sqlite:///{building}")
        print(
            f"building the big database ({keys:,} keys, {usage:,} usage rows) in {CACHE} …",
            flush=True,
        )
        manage(["migrate", "--noinput", "-v", "0"], build_env, workdir / "bigdb.log")
        cmd = [
            str(PROJECT_PY),
            str(ROOT / "bench" / "bigdb.py"),
            "--keys",
            str(keys),
            "--usage",
            str(usage),
        ]
        subprocess.run(cmd, cwd=ROOT, env=build_env, check=True, timeout=3600)
        shutil.move(building, path)
    return env


def postgres_redis(workdir: Path) -> dict[str, str]:
    """Drops and creates the bench database; empties the bench Redis database."""
    import redis

    parts = urlsplit(PG_URL)
    name = parts.path.lstrip("/")
    psql = ["psql", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
            "-U", parts.username or "postgres", "-d", "postgres", "-q", "-v", "ON_ERROR_STOP=1"]  # fmt: skip
    for sql in (f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}"):
        subprocess.run([*psql, "-c", sql], check=True, capture_output=True, timeout=60)
    redis.Redis.from_url(REDIS_URL).flushdb()
    return gateway_env(PG_URL, REDIS_URL)
