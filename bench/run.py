"""`make bench`: wall time of the offline plan against a bare Pulumi mock program.

    python bench/run.py [--stack prod] [--runs 7] [--max-ratio 3]

Both run as fresh processes, the way a user and CI start them, alternately so that a change
in machine load hits both. Prints the median and fastest wall time and the median CPU time of
each, their ratio, and whether every plan was byte-identical; exits 1 when the ratio of median
wall times exceeds --max-ratio. On a shared machine, compare the CPU ratio too: it moves less
with other people's load.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


@dataclass
class Timings:
    label: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def line(self) -> str:
        return (f"{self.label:<34} median {statistics.median(self.wall):6.2f} s wall  "
                f"(fastest {min(self.wall):.2f} s)  median {statistics.median(self.cpu):6.2f} s CPU")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], timings: Timings | None) -> None:
    cpu_before = _children_cpu()
    started = time.perf_counter()
    result = subprocess.run(command, cwd=PROJECT_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, check=False)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"bench: {' '.join(command)} exited {result.returncode}:\n{result.stderr}")
    if timings is not None:
        timings.wall.append(wall)
        timings.cpu.append(_children_cpu() - cpu_before)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each, after one warm-up run")
    parser.add_argument("--max-ratio", type=float, default=3.0, help="budget: plan / baseline median wall time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        plans = [Path(scratch) / f"plan-{run}.json" for run in range(args.runs + 1)]
        baseline_command = [sys.executable, str(PROJECT_DIR / "bench" / "mock_baseline.py")]

        def plan_command(output: Path) -> list[str]:
            return [sys.executable, "-m", "tools.plan", "--stack", args.stack, "--json", str(output)]

        baseline = Timings("bare mock program (one resource)")
        plan = Timings(f"make plan STACK={args.stack}")
        timed(baseline_command, None)  # warm the page cache for both
        timed(plan_command(plans[0]), None)
        for run in range(1, args.runs + 1):
            timed(baseline_command, baseline)
            timed(plan_command(plans[run]), plan)
        identical = len({path.read_bytes() for path in plans}) == 1
    wall_ratio = statistics.median(plan.wall) / statistics.median(baseline.wall)
    cpu_ratio = statistics.median(plan.cpu) / statistics.median(baseline.cpu)
    print(f"{args.runs} runs each, alternating; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(baseline.line())
    print(plan.line())
    print(f"ratio (plan / baseline): {wall_ratio:.2f}x wall, {cpu_ratio:.2f}x CPU; budget {args.max_ratio:g}x wall")
    print(f"plan JSON byte-identical across {len(plans)} runs: {'yes' if identical else 'NO'}")
    return 0 if wall_ratio <= args.max_ratio and identical else 1


if __name__ == "__main__":
    sys.exit(main())
