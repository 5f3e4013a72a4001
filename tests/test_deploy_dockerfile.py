"""The Dockerfile: one non-root image for every service, built from what ``pip install .`` needs."""

from __future__ import annotations

from .support.deploy import ROOT, Manifests, deployments


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_dockerfile_builds_one_non_root_image(k8s: Manifests) -> None:
    steps = dockerfile_instructions()
    bases = [args.split()[0] for op, args in steps if op == "FROM"]
    assert bases and all(base == "python:3.11-slim" for base in bases), bases
    assert any(op == "RUN" and "pip install ." in args for op, args in steps)
    final = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM"):]
    users = [args for op, args in final if op == "USER"]
    assert users, "the runtime stage must switch to a non-root user"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "a numeric non-root UID lets runAsNonRoot verify it"
    for deployment in deployments(k8s).values():
        assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == int(uid)
    cmds = [args for op, args in final if op == "CMD"]
    assert cmds and cmds[-1].replace(" ", "") == '["alertbus","gateway"]', "exec-form CMD, gateway by default"


def test_dockerfile_copies_what_pip_install_needs() -> None:
    ignored = {
        line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    copied = []
    for op, args in dockerfile_instructions():
        if op == "COPY" and not args.startswith("--from"):
            *sources, _ = args.split()
            copied += sources
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: no such file"
        assert source not in ignored, f"COPY {source} is excluded by .dockerignore"
    # Every package setuptools will install (pyproject: include shared*, services*) is in the build context.
    assert {"pyproject.toml", "shared", "services"} <= set(copied)
    assert {".git", ".venv", "tests"} <= ignored
