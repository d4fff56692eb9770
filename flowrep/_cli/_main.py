"""The `flowrep` command (placeholder until the CLI issue lands)."""

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    print("flowrep: command line coming soon", file=sys.stderr)
    return 1
