"""The deliberate differences (``deliberate.yaml``): each names the requests and answer paths it covers (globs), a
reason, and the row of README's section *Where alertbus answers differently from Alerta 9.1* that documents it."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import yaml

HERE = Path(__file__).parent
README = HERE.parent.parent / "README.md"
SECTION = "## Where alertbus answers differently from Alerta 9.1"


@dataclass(frozen=True)
class Deliberate:
    readme: str  # the README row's topic, exactly as written there
    reason: str
    steps: tuple[str, ...]  # globs on "<sequence> / <step>"
    paths: tuple[str, ...]  # globs on a difference's path ("status", "body.alert.attributes.ip")

    def covers(self, step: str, path: str) -> bool:
        return any(fnmatchcase(step, s) for s in self.steps) and any(fnmatchcase(path, p) for p in self.paths)


def load(path: Path = HERE / "deliberate.yaml") -> list[Deliberate]:
    """The entries, each checked: every field present, and its topic named in README's differences section."""
    entries = yaml.safe_load(path.read_text()) or []
    text = README.read_text()
    section = text[text.index(SECTION):]
    section = section[:section.find("\n## ", 1)]
    loaded = []
    for index, entry in enumerate(entries):
        missing = {"readme", "reason", "steps", "paths"} - set(entry)
        if missing:
            raise ValueError(f"{path.name} entry {index} lacks {sorted(missing)}")
        if f"| {entry['readme']} |" not in section:
            raise ValueError(f"{path.name} entry {index}: README's differences table has no row {entry['readme']!r}")
        loaded.append(Deliberate(entry["readme"], entry["reason"], tuple(entry["steps"]), tuple(entry["paths"])))
    return loaded
