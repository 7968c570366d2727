"""The shared handles the API, the worker and the maintenance loop work with, built once per process."""

from __future__ import annotations

from dataclasses import dataclass

import redis
import redis.asyncio

from core.keys import Keys
from core.queue import JobQueue
from core.records import VideoRecords
from core.settings import Settings
from core.storage import Storage, build_storage
from core.webhooks import WebhookOutbox


@dataclass
class Context:
    settings: Settings
    redis: redis.Redis
    keys: Keys
    records: VideoRecords
    queue: JobQueue
    storage: Storage
    outbox: WebhookOutbox
    # The API's event-loop client for the submit path, set by the app's lifespan (None elsewhere).
    aredis: redis.asyncio.Redis | None = None

    @classmethod
    def build(cls, settings: Settings, client: redis.Redis, storage: Storage | None = None) -> Context:
        keys = Keys(settings.key_prefix)
        return cls(
            settings=settings,
            redis=client,
            keys=keys,
            records=VideoRecords(client, keys),
            queue=JobQueue(client, settings),
            storage=storage if storage is not None else build_storage(settings),
            outbox=WebhookOutbox(client, keys, settings),
        )
