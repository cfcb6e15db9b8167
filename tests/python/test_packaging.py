# SPDX-License-Identifier: BSD-3-Clause
# tests/python/test_packaging.py - `pip install bindings/python` offline,
# and how the installed package finds libleader.so: $LIBLEADER_PATH (a file
# or a directory), the soname through the dynamic linker, and a clear error
# when there is none.
import os
import shutil
import subprocess
import sys

import pytest

import libleader

from conftest import BINDING, ROOT, child_env

PROBE = ("import libleader; print(libleader.__file__); "
         "print(libleader.library_path()); print(libleader.library_version())")


@pytest.fixture(scope="module")
def library():
    path = os.path.realpath(libleader.library_path())
    if not os.path.isfile(path):
        pytest.skip(f"libleader was loaded by name ({path}), not from a file")
    return path


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """bindings/python installed with pip into a directory of its own."""
    probes = [[sys.executable, "-m", "pip", "--version"],
              [sys.executable, "-c", "import setuptools, wheel"]]
    if any(subprocess.run(p, capture_output=True).returncode
           for p in probes):
        pytest.skip("pip, setuptools or wheel is missing for "
                    f"{sys.executable} (Debian: python3-pip)")
    tmp = tmp_path_factory.mktemp("pip")
    src = tmp / "src"
    # From a copy, so that the build leaves nothing in the source tree.
    shutil.copytree(BINDING, src, ignore=shutil.ignore_patterns(
        "__pycache__", "build", "*.egg-info"))
    site = tmp / "site"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-build-isolation",
         "--no-index", "--no-deps", "--disable-pip-version-check",
         "--target", str(site), str(src)],
        capture_output=True, text=True, env=child_env(PIP_NO_INPUT="1"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert (site / "libleader" / "__init__.py").is_file()
    # The package bundles no shared library.
    assert not list(site.rglob("*.so*"))
    return site


def run_installed(site, **env):
    e = {k: v for k, v in os.environ.items()
         if k not in ("LIBLEADER_PATH", "PYTHONPATH", "LD_LIBRARY_PATH")}
    e["PYTHONPATH"] = str(site)
    e["PYTHONDONTWRITEBYTECODE"] = "1"
    e.update(env)
    return subprocess.run([sys.executable, "-c", PROBE], capture_output=True,
                          text=True, env=e, cwd=str(site))


def test_installed_package_uses_libleader_path(installed, library):
    done = run_installed(installed, LIBLEADER_PATH=library)
    assert done.returncode == 0, done.stderr
    where, path, version = done.stdout.split()
    assert where.startswith(str(installed))
    assert path == library
    assert version == libleader.library_version()


def test_libleader_path_may_name_a_directory(installed, library):
    done = run_installed(installed,
                         LIBLEADER_PATH=os.path.dirname(library))
    assert done.returncode == 0, done.stderr
    assert os.path.dirname(done.stdout.split()[1]) == \
        os.path.dirname(library)


def test_installed_package_finds_the_soname(installed, library):
    done = run_installed(installed,
                         LD_LIBRARY_PATH=os.path.dirname(library))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[1] == "libleader.so.0"


def test_a_missing_library_is_a_clear_error(installed, tmp_path):
    done = run_installed(installed, LIBLEADER_PATH=str(tmp_path / "none.so"))
    assert done.returncode != 0
    assert "LibraryNotFoundError" in done.stderr
    assert "libleader shared library not found" in done.stderr
    assert "$LIBLEADER_PATH" in done.stderr and "none.so" in done.stderr
    # Importing alone does not need the library.
    e = dict(os.environ, LIBLEADER_PATH=str(tmp_path / "none.so"),
             PYTHONPATH=str(installed))
    imp = subprocess.run([sys.executable, "-c", "import libleader"],
                         capture_output=True, text=True, env=e)
    assert imp.returncode == 0, imp.stderr


def test_the_source_tree_finds_its_build(library):
    # Run from the source tree with no $LIBLEADER_PATH: bindings/python
    # finds the build directory ($LEADER_BUILD_DIR, default build/).
    e = child_env(LEADER_BUILD_DIR=os.path.dirname(library))
    e.pop("LIBLEADER_PATH", None)
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True,
                          text=True, env=e, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert os.path.realpath(done.stdout.split()[1]) == library
