"""End-to-end tests: subprocesses, README, notebooks, torchrun, the demo, the experiment."""
