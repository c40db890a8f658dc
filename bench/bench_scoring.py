"""Benchmark the scoring engine against the floor of a plain Python sum.

Scores N random complete assessments spread across every shipped scale and prints the median
time per assessment (medians over batches, machines are noisy) and its ratio to a plain
`sum(values)` over the very same responses, measured in the same run.

    python bench/bench_scoring.py [--assessments 100000] [--batch 1000] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import results  # noqa: E402
from scales import registry, score  # noqa: E402


def random_assessment(definition, rng: random.Random) -> dict[str, int]:
    responses = {item.id: rng.choice(sorted(item.scored_values)) for item in definition.items}
    for group in definition.choice_groups:
        keep = rng.choice(group)
        for member in group:
            if member != keep:
                del responses[member]
    return responses


def timed_batches(work, batches) -> list[float]:
    """Seconds per item for each batch."""
    per_item = []
    for batch in batches:
        start = time.perf_counter()
        work(batch)
        per_item.append((time.perf_counter() - start) / len(batch))
    return per_item


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assessments", type=int, default=100_000, help="how many assessments to score")
    parser.add_argument("--batch", type=int, default=1000, help="assessments per timed batch")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="20,000 assessments")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON rows (bench/results.py)")
    args = parser.parse_args(argv)
    if args.quick:
        args.assessments = 20_000

    rng = random.Random(args.seed)
    definitions = list(registry().values())
    work = []
    for _ in range(args.assessments):
        definition = rng.choice(definitions)
        work.append((definition, random_assessment(definition, rng)))
    batches = [work[i : i + args.batch] for i in range(0, len(work), args.batch)]

    def engine(batch):
        for definition, responses in batch:
            score(definition, responses)

    def floor(batch):
        for _definition, responses in batch:
            sum(responses.values())

    engine(batches[0])  # warm caches once
    engine_times = timed_batches(engine, batches)
    floor_times = timed_batches(floor, batches)
    engine_median, floor_median = statistics.median(engine_times), statistics.median(floor_times)
    engine_p95 = statistics.quantiles(engine_times, n=20)[-1] if len(engine_times) > 1 else engine_median
    print(f"assessments scored      {len(work):>10,d} across {len(definitions)} scales")
    print(f"engine, median/assess.  {engine_median * 1e6:>10.2f} us   (p95 of batches {engine_p95 * 1e6:.2f} us)")
    print(f"floor (plain sum)       {floor_median * 1e6:>10.2f} us")
    print(f"ratio engine / floor    {engine_median / floor_median:>10.1f} x")
    print(f"throughput              {1 / engine_median:>10,.0f} assessments/s")
    results.write(
        args.json,
        [
            results.row(
                f"scoring, one assessment ({len(definitions)} scales, {len(work):,} scored)",
                engine_times,
                floor_times,
                "plain sum of the same responses",
            )
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
