"""What the command prints: aligned tables and claim verdicts."""

from typing import Any


def print_table(rows: list[dict[str, Any]], keys: list[str]) -> None:
    """Print `rows` as a table with one column per key (floats to 4 digits, None as `-`)."""

    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return "-" if v is None else str(v)

    cells = [[fmt(r.get(k)) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    print("  ".join(k.ljust(w) for k, w in zip(keys, widths)))
    for c in cells:
        print("  ".join(v.ljust(w) for v, w in zip(c, widths)))


def print_verdicts(data: dict) -> None:
    """Print any `reproduced`/`verdict` entries of a job's results, one per line."""

    def walk(obj, path):
        if isinstance(obj, dict):
            for k, v in obj.items():
                if k in ("reproduced", "reproduces") and isinstance(v, bool):
                    print(
                        f"{'/'.join(path) or 'claim'}: {'reproduced' if v else 'NOT reproduced'}"
                    )
                else:
                    walk(v, path + [str(k)])

    print()
    walk(data, [])
