"""The ``alerta`` 8.5.3 client's own integration tests against alertbus (``make integration``).

The tests come from the client's source distribution, fetched from the package index at run time (they are not
in its wheel): ``tests/integration/`` expects an Alerta at ``http://alerta:8080/api`` started by its container
with ``ADMIN_USERS=admin@alerta.io``, ``ADMIN_KEY=demo-key`` and authentication on. A fresh ``alertbus run`` is
started that way (``tests/parity/alertbus.py``), the endpoint is rewritten to it (alertbus serves every route
under ``/api`` too), and pytest runs them; the run fails unless every test passes."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from tests.parity.alertbus import fresh_alertbus

VERSION = "8.5.3"
ENDPOINT = "http://alerta:8080/api"
KEY = "demo-key"


def fetch_tests(work: Path) -> Path:
    """``tests/integration`` of the client's sdist, downloaded into ``work``."""
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", f"alerta=={VERSION}", "--no-deps",
                    "--no-binary", ":all:", "-d", str(work)], check=True)
    (sdist,) = work.glob(f"alerta-{VERSION}.tar.gz")
    with tarfile.open(sdist) as archive:
        members = [m for m in archive.getmembers() if "/tests/integration/" in m.name and m.isfile()]
        archive.extractall(work, members=members, filter="data")
    return work / f"alerta-{VERSION}" / "tests" / "integration"


def point_at(tests: Path, url: str) -> int:
    """Rewrite the hard-coded endpoint in every test file; returns how many files named it."""
    changed = 0
    for path in tests.glob("*.py"):
        text = path.read_text()
        if ENDPOINT in text:
            path.write_text(text.replace(ENDPOINT, f"{url}/api"))
            changed += 1
    return changed


def run_pytest(tests: Path, report: Path, extra: list[str]) -> list[tuple[str, str]]:
    """Runs the tests (with a config of their own: this project's pytest settings are not theirs) and returns
    ``(test, outcome)`` for each, from the JUnit report."""
    (tests / "pytest.ini").write_text("[pytest]\n")
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", str(tests / "pytest.ini"),
                    "--rootdir", str(tests), f"--junitxml={report}", str(tests), *extra], check=False)
    outcomes = []
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        skipped = case.find("skipped") is not None
        name = f"{case.get('classname', '').rsplit('.', 1)[0].rsplit('.', 1)[-1]}::{case.get('name')}"
        outcomes.append((name, "failed" if failed else "skipped" if skipped else "passed"))
    return outcomes


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.alerta_integration")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (e.g. -k alerts)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="alerta-integration-") as tmp:
        work = Path(tmp)
        tests = fetch_tests(work)
        with fresh_alertbus(KEY) as url:
            files = point_at(tests, url)
            outcomes = run_pytest(tests, work / "report.xml", args.pytest_args)
    for name, outcome in outcomes:
        print(f"{outcome.upper():8} {name}")
    passed = sum(outcome == "passed" for _, outcome in outcomes)
    print(f"alerta {VERSION} integration tests ({files} files pointed at alertbus): {len(outcomes)} tests, "
          f"{passed} passed, {len(outcomes) - passed} failed or skipped")
    return 0 if outcomes and passed == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
