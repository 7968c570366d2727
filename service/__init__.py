"""The HTTP API (FastAPI). Never imports torch: it queues work for the workers and reads Redis and storage."""
