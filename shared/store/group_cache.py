"""The ingest worker's memory of the alert groups it wrote last, so that a batch skips the group read (one of its
two store commands, and on SecantusDB the dearer one) when it knows every group it touches already.

Why it may be believed: every change to an alert is applied by the ingest worker that consumes the alert's shard
(housekeeping, the heartbeat watch, the hooks and every command go through the broker; shared/store/housekeeping.py
only reads), and a shard has one active consumer at a time. So while this worker keeps consuming a shard, the groups
of that shard change only by its own writes. The cache therefore holds a group only as this worker last wrote or read
it, and is emptied whenever that may no longer hold: a shard given back, taken or lost with the connection
(services/ingest/shards.py), a batch that failed in any way, a write that did not land. A batch that started before
the cache was emptied does not fill it again (``epoch``). And should a group change behind its back all the same, the
safety nets of the write path still hold: a replace is conditional on the token it read and an insert meets the
identity index, so a stale document is a conflict, re-applied from a fresh read.

A group is handed to one batch at a time (``take`` removes it) and stored as a copy through BSON (``keep``): what the
next batch gets is exactly what the store would return (millisecond times, lists), never an object an earlier batch
still answers from. Bounded by ``max_docs`` documents (least recently written dropped first).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import bson
from bson.binary import UuidRepresentation
from bson.codec_options import CodecOptions

GroupKey = tuple[str, str]
MAX_DOCS = 2000  # documents held (an alert is a few kB, with its history at most a few tens of kB)
CODEC: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True, uuid_representation=UuidRepresentation.STANDARD)


class GroupCache:
    def __init__(self, codec_options: CodecOptions[dict[str, Any]] = CODEC, max_docs: int = MAX_DOCS) -> None:
        self.codec_options = codec_options
        self.max_docs = max_docs
        self.groups: OrderedDict[GroupKey, list[bytes]] = OrderedDict()
        self.docs = 0
        self.epoch = 0  # bumped by every ``clear``: a batch that read before it keeps nothing

    def clear(self) -> None:
        self.groups.clear()
        self.docs = 0
        self.epoch += 1

    def take(self, keys: Iterable[GroupKey]) -> dict[GroupKey, list[dict[str, Any]]]:
        """The known groups among ``keys`` (removed: the batch owns them until it keeps them again)."""
        found = {}
        for key in keys:
            raw = self.groups.pop(key, None)
            if raw is not None:
                self.docs -= len(raw)
                found[key] = [bson.decode(doc, self.codec_options) for doc in raw]
        return found

    def keep(self, groups: dict[GroupKey, list[dict[str, Any]]], epoch: int) -> None:
        """Remember ``groups`` as they are stored now (every write of theirs landed), unless the cache was emptied
        since the batch began (``epoch``)."""
        if epoch != self.epoch:
            return
        for key, docs in groups.items():
            old = self.groups.pop(key, None)
            self.docs -= len(old or ())
            if len(docs) > self.max_docs:
                continue
            # In the order the group read returns them (the identity index: by event), which the rules may depend on.
            ordered = sorted(docs, key=lambda doc: str(doc.get("event", "")))
            self.groups[key] = [bson.encode(doc, codec_options=self.codec_options) for doc in ordered]
            self.docs += len(docs)
        while self.docs > self.max_docs:
            _, dropped = self.groups.popitem(last=False)
            self.docs -= len(dropped)
