"""The ``videogen`` command line: one entry, a subcommand a module."""
