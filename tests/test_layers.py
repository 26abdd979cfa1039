"""The app layers of pyproject.toml's [tool.importlinter]: `lint-imports` keeps the real tree,
and breaks on a copy of it into which one reverse import has been written.

The copy lives in tmp_path and comes first on PYTHONPATH, so the linter reads it and not
the checkout; each broken run names the injected module, which shows that it did.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("accounts", "billing", "proxy", "platform_site")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
LAYERS = "apps in layers: accounts < billing < proxy < dashboard < platform_site"
PURE = "proxy.translate is pure: no Django, no other app"


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(cwd / "pyproject.toml")],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(cwd)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_real_tree_keeps_every_contract():
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{LAYERS} KEPT" in done.stdout and f"{PURE} KEPT" in done.stdout


def test_the_copy_is_clean_before_anything_is_injected(tree_copy):
    done = lint_imports(tree_copy)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("module", "injected", "contract", "named"),
    [
        ("accounts/models.py", "import billing.services", LAYERS, "accounts.models -> billing"),
        ("accounts/selectors.py", "import proxy.auth", LAYERS, "accounts.selectors -> proxy"),
        ("billing/models/usage.py", "import proxy.models", LAYERS, "billing.models.usage -> proxy"),
        ("proxy/auth.py", "import platform_site.urls", LAYERS, "proxy.auth -> platform_site"),
        ("proxy/auth.py", "import dashboard.apps", LAYERS, "proxy.auth -> dashboard"),
        ("proxy/translate/sse.py", "import django.conf", PURE, "proxy.translate.sse -> django"),
        ("proxy/translate/wire.py", "import accounts.money", PURE, "proxy.translate.wire"),
    ],
)
def test_a_reverse_import_breaks_its_contract(tree_copy, module, injected, contract, named):
    path = tree_copy / module
    path.write_text(f"{injected}  # injected by tests/test_layers.py\n" + path.read_text())

    done = lint_imports(tree_copy)

    assert done.returncode != 0
    assert f"{contract} BROKEN" in done.stdout, done.stdout + done.stderr
    assert named in done.stdout
