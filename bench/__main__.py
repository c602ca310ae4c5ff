"""Run every benchmark: ``python -m bench`` (full) or ``python -m bench --quick`` (smoke run).

Each ``bench/bench_*.py`` is run as its own process (so one's memory never counts against
another's), prints our figure beside the reference measured in the same run, and must exit 0.
``--only NAME`` runs a subset. The summary lines at the end say which passed."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent


def discover() -> list[str]:
    return sorted(p.stem for p in HERE.glob("bench_*.py"))


def _local_server_up(host: str = "127.0.0.1", port: int = 5432) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


@contextmanager
def bench_server() -> Iterator[dict[str, str]]:
    """``BENCH_DATABASE_URL`` when set; else the machine's server on 127.0.0.1:5432; else an
    embedded PostgreSQL started for this run (scripts create and drop scratch databases on it)."""
    env = dict(os.environ)
    if env.get("BENCH_DATABASE_URL") or _local_server_up():
        yield env
        return
    from safework_cli.embedded_pg import EmbeddedPostgres

    server = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="safework-bench-pg-")) / "pg", delete_on_stop=True)
    server.start()
    print(f"bench: no PostgreSQL on 127.0.0.1:5432; using an embedded server ({server.socket_dir})", flush=True)
    try:
        env["BENCH_DATABASE_URL"] = server.url("postgres")
        yield env
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run of every script")
    parser.add_argument("--only", action="append", default=[], help="run only these (e.g. bench_ingest)")
    args = parser.parse_args(argv)
    names = [n for n in discover() if not args.only or n in args.only]
    results: list[tuple[str, int, float]] = []
    with bench_server() as env:
        for name in names:
            cmd = [sys.executable, "-m", f"bench.{name}", *(["--quick"] if args.quick else [])]
            print(f"\n=== {name} {'(quick)' if args.quick else ''} ===", flush=True)
            started = time.perf_counter()
            code = subprocess.call(cmd, cwd=HERE.parent, env=env)
            results.append((name, code, time.perf_counter() - started))
    print("\n=== summary ===")
    for name, code, seconds in results:
        print(f"{name:<20} {'ok' if code == 0 else f'FAILED ({code})':<12} {seconds:6.1f} s")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
