"""Every parity sequence, in the order they run. Each works on alerts of its own (its own resources or group), so
that a skipped one changes no other's answers."""

from __future__ import annotations

from ..model import Sequence
from .alerts import ALERTS
from .commands import COMMANDS
from .documented import DOCUMENTED
from .errors import ERRORS
from .others import OTHERS
from .pending import PENDING
from .queries import QUERIES

SEQUENCES: list[Sequence] = [*ALERTS, *QUERIES, *COMMANDS, *OTHERS, *ERRORS, *DOCUMENTED, *PENDING]
