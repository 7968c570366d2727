# The two commands the README promises. Both set everything up first (idempotent).
.PHONY: up test setup lint bench

up: setup             ## API + worker + local Redis on this machine, demo model: http://127.0.0.1:8000
	.venv/bin/videogen up

test:                 ## lint and the whole test suite (what CI runs)
	scripts/test.sh

setup:
	scripts/setup.sh

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

bench:                ## speed and memory tables (not part of the tests)
	.venv/bin/python bench/pipeline.py
