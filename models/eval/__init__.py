"""Evaluation of VideoGen models: world correctness from pixels, temporal consistency, the paper's metrics
(CLIPSIM, FVD, IS) with local feature networks, ablations and reports. ``videogen eval`` is the entry point."""
