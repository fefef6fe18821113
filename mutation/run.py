"""`make mutation`: mutmut over the safety-critical pure modules, one module at a time.

Each module is mutated against its own fast tests (MODULES below), on SQLite with no
services, in a copy of the last commit (--worktree: of the files as they are) under
var/mutation/<module>/, so the work tree stays clean and edits made meanwhile cannot
disturb a run. Prints a table of scores and
the surviving mutants; writes var/mutation/results.json. Not part of CI.

    python mutation/run.py                 # every module
    python mutation/run.py taper schedule  # some of them
    python mutation/run.py --keep taper    # reuse var/mutation/taper (mutmut's cache)

Inspect a survivor afterwards: cd var/mutation/taper && ../../../.venv/bin/mutmut show NAME
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = ROOT / "var" / "mutation"
MUTMUT = Path(sys.executable).parent / "mutmut"

# module -> its fast tests (pure: no database, no pages, so a run takes minutes and a
# half-finished change elsewhere cannot stop it); files not (yet) present are left out.
MODULES: dict[str, list[str]] = {
    "taper": ["tests/test_taper.py"],
    "schedule": ["tests/test_schedule.py"],
    "safety": ["tests/test_safety.py"],
    "tokens": ["tests/test_tokens.py"],
    "attention": ["tests/test_attention.py"],
}
# Where each module lives: the pure rules in aftercare/rules/, the rest in aftercare/.
PATHS = {module: f"aftercare/rules/{module}.py" for module in MODULES} | {
    "tokens": "aftercare/tokens.py"
}
COPY = ["aftercare", "clients", "tests", "templates", "static", "manage.py", "pyproject.toml"]
# The embedded defaults: SQLite in the copy's var/, no broker, no Redis, mail to files.
DROP_ENV = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "EMAIL_URL", "REQUIRE_SERVICES")
STATUS = re.compile(r"^\s+(\S+): (.+)$")


def prepare(module: str, tests: list[str], keep: bool, worktree: bool) -> Path:
    work = SCRATCH / module
    if work.exists() and not keep:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        shutil.rmtree(work / name, ignore_errors=True)
    if worktree:  # the files as they are now, uncommitted edits included
        for name in COPY:
            source, target = ROOT / name, work / name
            if source.is_dir():
                shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, target)
    else:  # the last commit: what others are editing meanwhile cannot break the run
        archive = subprocess.run(
            ["git", "archive", "--format=tar", "HEAD", *COPY],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(work)], input=archive, check=True)
        shutil.copy2(ROOT / "pyproject.toml", work)  # this [tool.mutmut], even uncommitted
    # This run's module and tests replace the shared [tool.mutmut] selection.
    text = (work / "pyproject.toml").read_text()
    text = re.sub(r"only_mutate = \[.*?\]", f'only_mutate = ["{PATHS[module]}"]', text, flags=re.S)
    text = re.sub(
        r"pytest_add_cli_args_test_selection = \[.*?\]",
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
        text,
        flags=re.S,
    )
    (work / "pyproject.toml").write_text(text)
    return work


def present(path: str, worktree: bool) -> bool:
    if worktree:
        return (ROOT / path).exists()
    found = subprocess.run(
        ["git", "cat-file", "-e", f"HEAD:{path}"], cwd=ROOT, capture_output=True, check=False
    )
    return found.returncode == 0


def run(module: str, keep: bool, worktree: bool) -> dict:
    tests = [t for t in MODULES[module] if present(t, worktree)]
    if not present(PATHS[module], worktree) or not tests:
        return {"module": module, "skipped": "no module or no tests"}
    work = prepare(module, tests, keep, worktree)
    env = {k: v for k, v in os.environ.items() if k not in DROP_ENV}
    env["VAR_DIR"] = str(work / "var")
    started = time.monotonic()
    log = work / "mutmut-run.log"
    with log.open("w") as out:
        subprocess.run(
            [str(MUTMUT), "run", f"aftercare.{module}.*"],
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    listing = subprocess.run(
        [str(MUTMUT), "results", "--all", "true"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    statuses: dict[str, str] = {}
    for line in listing.splitlines():
        match = STATUS.match(line)
        if match and match.group(1).startswith(f"aftercare.{module}."):
            statuses[match.group(1)] = match.group(2)
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    killed = counts.get("killed", 0) + counts.get("timeout", 0)
    judged = sum(v for k, v in counts.items() if k not in ("skipped", "not checked"))
    return {
        "module": module,
        "tests": tests,
        "seconds": round(time.monotonic() - started),
        "counts": counts,
        "score": round(100 * killed / judged, 1) if judged else None,
        "survivors": sorted(k for k, v in statuses.items() if v in ("survived", "no tests")),
        "log": str(log.relative_to(ROOT)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"some of: {' '.join(MODULES)} (default: all)")
    parser.add_argument("--keep", action="store_true", help="reuse the previous copy and cache")
    parser.add_argument(
        "--worktree", action="store_true", help="mutate the files as they are, not HEAD's"
    )
    args = parser.parse_args()
    unknown = set(args.modules) - set(MODULES)
    if unknown:
        parser.error(f"unknown module(s): {' '.join(sorted(unknown))}")
    SCRATCH.mkdir(parents=True, exist_ok=True)
    results_file = SCRATCH / "results.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    for module in args.modules or list(MODULES):
        print(f"== {module}", flush=True)
        result = run(module, args.keep, args.worktree)
        results[module] = result
        results_file.write_text(json.dumps(results, indent=2) + "\n")
        if "skipped" in result:
            print(f"   skipped: {result['skipped']}")
            continue
        print(f"   score {result['score']}%  {result['counts']}  ({result['seconds']} s)")
        for name in result["survivors"]:
            print(f"   survived: {name}")
    print(f"\n{'module':<10} {'score':>7} {'killed':>7} {'survived':>9} {'total':>6}")
    for module, result in results.items():
        if "skipped" in result:
            continue
        counts = result["counts"]
        total = sum(counts.values())
        print(
            f"{module:<10} {result['score']!s:>6}% {counts.get('killed', 0):>7}"
            f" {counts.get('survived', 0):>9} {total:>6}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
