"""``lpscore bench-allocation``: learning allocators on the dark pool problem."""

from __future__ import annotations

import json
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from lpscore.cli_common import OutputFormat, err, exit_on_error
from lpscore.errors import InputError
from lpscore.learn.costsplit import CostParams, clip_then_rescale, solve_exact, solve_sgd
from lpscore.learn.darkpool import ALLOCATORS, VENUES, run_darkpool
from lpscore.sim.bench import interval

__all__ = ["bench_allocation"]

BLOCKS = 10
SPARK = " ▁▂▃▄▅▆▇█"


def bench_allocation(
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds 0..N-1, the same venue draws "
                                       "for every allocator.", min=2)] = 30,
    episodes: Annotated[int, typer.Option("--episodes", help="Episodes per seed.", min=10)
                        ] = 2000,
    sizes: Annotated[str, typer.Option("--sizes", help="Order sizes V, comma-separated.")
                     ] = "1000,8000",
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json.")
                      ] = OutputFormat.TABLE,
) -> None:
    """The dark pool problem: learning allocators against the ideal, uniform and a bandit.

    Four venues with a zero bin plus power-law liquidity (Ganchev et al. 2010); the executed
    fraction of each order per episode, its learning curve, and the regret vs the allocator
    that knows the distributions, with 95% intervals across seeds (docs/learn.md)."""
    with exit_on_error():
        if output is OutputFormat.CSV:
            raise InputError("--format csv is not available: use table or json")
        try:
            totals = [float(x) for x in sizes.split(",") if x.strip()]
        except ValueError as exc:
            raise InputError(f"--sizes {sizes}: give order sizes such as 1000,8000") from exc
        if not totals or any(t <= 0 for t in totals):
            raise InputError(f"--sizes {sizes}: give positive order sizes")
        report = []
        with Progress(TextColumn("[bold]bench-allocation[/] {task.description}"), BarColumn(),
                      TimeRemainingColumn(), console=err,
                      disable=output is not OutputFormat.TABLE, transient=True) as progress:
            task = progress.add_task("dark pool", total=len(totals) * seeds * len(ALLOCATORS))
            for total in totals:
                label = f"V={total:g}"

                def tick(name: str, seed: int, label: str = label) -> None:
                    progress.update(task, advance=1, description=f"{label} {name}")

                runs = run_darkpool(VENUES, total=total, episodes=episodes,
                                    seeds=range(seeds), progress=tick)
                report.append(_summary(total, episodes, seeds, runs))
            cases = cont_kukanov_cases()
        if output is OutputFormat.JSON:
            print(json.dumps({"darkpool": report, "cont_kukanov": cases}))
            return
        _print(report)
        _print_cases(cases)


def cont_kukanov_cases(target: float = 10.0, samples: int = 2_000,
                       seed: int = 0) -> list[dict[str, Any]]:
    """One and two venues (D1, D2 liquidity scaled to the target): the brute-force optimum on
    the whole-share grid against projected SGD with the exact projection and with
    clip-then-rescale (docs/learn.md)."""
    rng = np.random.default_rng(seed)
    scale = target / 10.0
    xi = np.stack([np.floor(v.draw(rng, samples) * scale / 100.0) for v in VENUES[:2]], axis=1)
    out = []
    for k, cap in ((1, None), (2, None), (2, target)):
        params = CostParams(target=target, half_spread=1.0, fee=0.3,
                            rebates=(0.2, 0.3)[:k], lambda_u=2.0, lambda_o=3.0, theta=0.05,
                            max_total=cap)
        x_exact, c_exact = solve_exact(params, xi[:, :k],
                                       np.arange(0, (cap or 2 * target) + 1))
        x_sgd, c_sgd = solve_sgd(params, xi[:, :k], seed=seed)
        x_naive, c_naive = solve_sgd(params, xi[:, :k], seed=seed,
                                     projection=clip_then_rescale)
        out.append({"venues": k, "cap": params.cap, "exact": {"x": x_exact.tolist(),
                                                               "cost": c_exact},
                    "sgd": {"x": [round(v, 3) for v in x_sgd.tolist()], "cost": c_sgd},
                    "sgd_clip_rescale": {"x": [round(v, 3) for v in x_naive.tolist()],
                                         "cost": c_naive}})
    return out


def _print_cases(cases: list[dict[str, Any]]) -> None:
    table = Table(title="Cont-Kukanov: buy 10, market order M and limit orders L_k; expected "
                  "cost (lower is better) and allocation (M, L_1, ...)")
    for column in ("venues", "cap", "brute force", "SGD, exact projection",
                   "SGD, clip then rescale"):
        table.add_column(column, justify="right")
    for c in cases:
        table.add_row(str(c["venues"]), f"{c['cap']:g}",
                      *(f"{c[s]['cost']:.3f} at {[round(v, 1) for v in c[s]['x']]}"
                        for s in ("exact", "sgd", "sgd_clip_rescale")))
    Console().print(table)


def _summary(total: float, episodes: int, seeds: int,
             runs: dict[str, np.ndarray]) -> dict[str, Any]:
    ideal = runs["ideal"]
    rows = []
    for name, done in runs.items():
        blocks = done.reshape(done.shape[0], BLOCKS, -1).mean(axis=2) if (
            episodes % BLOCKS == 0) else done[:, :episodes // BLOCKS * BLOCKS].reshape(
                done.shape[0], BLOCKS, -1).mean(axis=2)
        rows.append({
            "name": name,
            "fraction": interval(done.mean(axis=1).tolist()).to_json(),
            "regret": interval((ideal - done).mean(axis=1).tolist()).to_json(),
            "last_tenth": interval(blocks[:, -1].tolist()).to_json(),
            "curve": [float(x) for x in blocks.mean(axis=0)],
        })
    return {"total": total, "episodes": episodes, "seeds": seeds,
            "venues": [{"name": v.name, "zero": v.zero, "alpha": v.alpha, "scale": v.scale}
                       for v in VENUES],
            "allocators": rows}


def _print(report: list[dict[str, Any]]) -> None:
    console = Console()
    for part in report:
        table = Table(title=f"dark pool, V = {part['total']:,.0f} shares, {part['episodes']:,} "
                      f"episodes x {part['seeds']} seeds: fraction executed, mean [95% "
                      "interval across seeds]")
        for column in ("allocator", "fraction", "last tenth", "regret vs ideal",
                       "learning curve"):
            table.add_column(column, justify="left" if column in ("allocator",
                                                                  "learning curve")
                             else "right")
        top = max(max(r["curve"]) for r in part["allocators"]) or 1.0
        for r in part["allocators"]:
            spark = "".join(SPARK[min(8, round(8 * x / top))] for x in r["curve"])
            table.add_row(r["name"], _cell(r["fraction"]), _cell(r["last_tenth"]),
                          _cell(r["regret"]), spark)
        console.print(table)


def _cell(i: dict[str, float]) -> str:
    return f"{i['mean']:.3f} [{i['ci_low']:.3f}, {i['ci_high']:.3f}]"
