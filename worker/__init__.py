"""The GPU worker: RQ job functions and the worker loop that loads the pipeline once per process."""
