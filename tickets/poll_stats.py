"""The counters of one poll (`poll --json`, design.md), per run and per folder."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class FolderStats:
    uidvalidity: int = 0
    last_uid: int = 0
    fetched: int = 0


@dataclass
class PollStats:
    """fetched = added + ignored + duplicates + spam_held + quarantined; the rest are sub-counts."""

    fetched: int = 0
    tickets_created: int = 0
    messages_added: int = 0
    ignored: int = 0
    duplicates: int = 0
    auto_replies: int = 0
    bounces: int = 0
    bulk: int = 0
    spam_held: int = 0
    spam_rescued: int = 0
    quarantined: int = 0
    folders: dict[str, FolderStats] = field(default_factory=dict)

    def counters(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if isinstance(v, int)}

    def restore(self, counters: dict[str, int]) -> None:
        for k, v in counters.items():
            setattr(self, k, v)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["folders"] = {k: asdict(v) for k, v in self.folders.items()}
        return d
