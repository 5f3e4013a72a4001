"""``python -m tests.parity --reference URL --key KEY``: starts a fresh alertbus, replays the sequences against
both, prints every unexpected difference and a summary; exit status 1 when any difference is not deliberate."""

from __future__ import annotations

import argparse
import sys

from . import deliberate as deliberate_file
from .alertbus import fresh_alertbus
from .runner import Outcome, Server, run
from .sequences import SEQUENCES


def report(outcome: Outcome, entries: list[deliberate_file.Deliberate]) -> None:
    for note in outcome.skipped:
        print(f"SKIPPED  {note}")
    for sequence, step, differences in outcome.unexpected:
        print(f"UNEXPECTED  {sequence} / {step.name}: {step.method} {step.path}")
        for difference in differences:
            print(f"    {difference}")
    for index, entry in enumerate(entries):
        if outcome.used[index]:
            print(f"deliberate  {entry.readme}: {outcome.used[index]} requests")
        else:
            print(f"note: deliberate difference {entry.readme!r} ({', '.join(entry.paths)}) was not seen")
    print(f"parity: {outcome.requests} requests, {outcome.identical} identical, {outcome.deliberate} deliberate, "
          f"{len(outcome.unexpected)} unexpected; {len(outcome.skipped)} sequences skipped")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.parity")
    parser.add_argument("--reference", default="http://127.0.0.1:18090", help="the reference Alerta 9.1")
    parser.add_argument("--key", default="parity-admin-key", help="its admin key (alertbus gets it as ADMIN_KEY)")
    parser.add_argument("--alertbus", help="an alertbus already running with that ADMIN_KEY (default: start one)")
    parser.add_argument("--only", help="run only the sequences whose name contains this")
    args = parser.parse_args()
    entries = deliberate_file.load()
    sequences = [s for s in SEQUENCES if not args.only or args.only in s.name]
    ref = Server(args.reference.rstrip("/"), args.key)
    if args.alertbus:
        outcome = run(sequences, ref, Server(args.alertbus.rstrip("/"), args.key), entries)
    else:
        with fresh_alertbus(args.key) as url:
            outcome = run(sequences, ref, Server(url, args.key), entries)
    report(outcome, entries)
    return 1 if outcome.unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
