"""What the service and the worker share: settings, the job contract, queue names, storage, media. No torch."""
