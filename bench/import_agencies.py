"""Benchmark: `manage.py import_agencies` on a 50,000-row directory (issue 12).

Writes a CSV of N distinct agencies (CP932, as Excel in Japan saves it, with a service and
two categories each), migrates the configured database, then runs the import command as a
child process and reports its wall time and peak memory (max RSS of the child).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tsunagu_bench_import \\
    SECRET_KEY=bench-only-0123456789abcdefghijklmnopqrstuvwxyz \\
    .venv/bin/python bench/import_agencies.py --rows 50000

Without DATABASE_URL it runs on the embedded default (SQLite) under a temporary var/.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS = ["npo_free_school", "hikikomori_support", "education_support", "welfare_office"]
CATEGORIES = ["school_refusal", "hikikomori", "family", "learning_support", "poverty"]
HEADER = (
    "slug,name,kind,prefecture,municipality,address,phone,hours,description,categories,"
    "intake_email,service_name\n"
)


def write_csv(path: Path, rows: int) -> None:
    lines = [HEADER]
    for n in range(rows):
        lines.append(
            f"bench-{n},髙﨑①支援センター{n},{KINDS[n % 4]},東京都,足立区,"
            f"足立区千住{n % 100}-{n % 7},03-{n % 9000 + 1000:04d}-{n % 10000:04d},"
            f"月〜金 9:00-17:00,不登校・ひきこもりの相談と居場所づくり(第{n}拠点),"
            f"{CATEGORIES[n % 5]};{CATEGORIES[(n + 1) % 5]},intake{n}@example.invalid,"
            f"居場所{n % 3}\n"
        )
    path.write_bytes("".join(lines).encode("cp932"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tsunagu.settings", "LOG_LEVEL": "WARNING"}
    with tempfile.TemporaryDirectory() as tmp:
        if not env.get("DATABASE_URL"):
            env["TSUNAGU_VAR_DIR"] = tmp
        csv_path = Path(tmp) / "directory.csv"
        write_csv(csv_path, args.rows)
        python = sys.executable
        subprocess.run(
            [python, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True
        )
        started = time.perf_counter()
        done = subprocess.run(
            [python, "manage.py", "import_agencies", str(csv_path), "--update"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - started
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(done.stdout.strip())
        if done.returncode:
            print(done.stderr[-3000:], file=sys.stderr)
            raise SystemExit(done.returncode)
        backend = "PostgreSQL" if env.get("DATABASE_URL") else "SQLite"
        size_mib = csv_path.stat().st_size / 2**20
        print(
            f"{args.rows:,} rows ({size_mib:.1f} MiB CP932) on {backend}: "
            f"{elapsed:.1f} s, peak RSS {peak_mib:.0f} MiB"
        )


if __name__ == "__main__":
    main()
