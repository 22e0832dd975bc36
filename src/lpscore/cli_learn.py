"""``lpscore bench-allocation``: learning allocators on the dark pool problem."""

from __future__ import annotations

import math
from typing import Annotated, Any

import numpy as np
import typer
from rich.progress import BarColumn, Progress, TimeRemainingColumn
from rich.table import Table

from lpscore.cli_common import Format, exit_on_error
from lpscore.cli_output import console, err, task_columns
from lpscore.errors import InputError
from lpscore.jsonout import strict_json
from lpscore.learn.costsplit import CostParams, clip_then_rescale, solve_exact, solve_sgd
from lpscore.learn.darkpool import ALLOCATORS, VENUES, run_darkpool
from lpscore.sim.bench import interval

__all__ = ["bench_allocation"]



CHECKPOINTS = (50, 200, 1000, 2000)
"""Episodes at which the fraction of ideal is reported (the 50 episodes up to each)."""
WINDOW = 50


def bench_allocation(
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds 0..N-1, the same venue draws "
                                       "for every allocator.", min=2)] = 30,
    episodes: Annotated[int, typer.Option("--episodes", help="Episodes per seed.", min=100)
                        ] = 2000,
    sizes: Annotated[str, typer.Option("--sizes", help="Order sizes V, comma-separated.")
                     ] = "1000,8000",
    output: Annotated[Format, typer.Option("--format", help="table or json.")
                      ] = Format.TABLE,
) -> None:
    """The dark pool problem and Cont-Kukanov splitting: learners against the ideal.

    Four venues with a zero bin plus power-law liquidity (Ganchev et al. 2010), stationary
    and with two venues swapping distributions half way; the executed fraction as a share of
    the ideal allocator's at episodes 50, 200, 1000, 2000, with 95% intervals across seeds;
    then the one- and two-venue Cont-Kukanov cases against brute force (docs/learn.md)."""
    with exit_on_error():
        totals = _sizes(sizes)
        configs = {"ganchev4": None, "ganchev4_swap": episodes // 2}
        rows: list[dict[str, Any]] = []
        with Progress(*task_columns("bench-allocation"), BarColumn(),
                      TimeRemainingColumn(), console=err,
                      disable=output is not Format.TABLE, transient=True) as progress:
            task = progress.add_task("dark pool", total=len(configs) * len(totals) * seeds
                                     * len(ALLOCATORS))
            for config, swap_at in configs.items():
                for total in totals:
                    label = f"{config} V={total}"

                    def tick(name: str, seed: int, label: str = label) -> None:
                        progress.update(task, advance=1, description=f"{label} {name}")

                    runs = run_darkpool(VENUES, total=total, episodes=episodes,
                                        seeds=range(seeds), swap_at=swap_at, progress=tick)
                    rows += _rows(config, total, runs, swap_at)
            cases = cont_kukanov_cases()
        if output is Format.JSON:
            print(strict_json({"dark_pool": rows, "cont_kukanov": cases}))
            return
        _print(rows, episodes, seeds)
        _print_cases(cases)


def _sizes(text: str) -> list[int]:
    """``--sizes``: whole, positive order sizes (``8e3`` is 8000; ``1.5`` is refused, not cut
    to 1)."""
    totals = []
    for item in (x.strip() for x in text.split(",") if x.strip()):
        try:
            size = float(item)
        except ValueError:
            size = math.nan
        if not (math.isfinite(size) and size > 0 and size == int(size)):
            raise InputError(f"--sizes {text}: {item!r} is not a whole positive order size; "
                             "give sizes such as 1000,8000")
        totals.append(int(size))
    if not totals:
        raise InputError(f"--sizes {text!r} names no size: give order sizes such as 1000,8000")
    return totals


def _ratio(done: np.ndarray, ideal: np.ndarray, end: int) -> float:
    """The policy's mean executed fraction over the ``WINDOW`` episodes up to ``end`` and
    every seed, over the ideal's (a single episode's ratio is mostly noise)."""
    start = max(end - WINDOW, 0)
    return float(done[:, start:end].mean() / max(ideal[:, start:end].mean(), 1e-12))


def _rows(config: str, total: int, runs: dict[str, np.ndarray],
          swap_at: int | None) -> list[dict[str, Any]]:
    ideal, uniform = runs["ideal"], runs["uniform"]
    episodes = ideal.shape[1]
    out = []
    for name, done in runs.items():
        row: dict[str, Any] = {
            "config": config, "V": total, "policy": name,
            "fraction_of_ideal": {str(e): _ratio(done, ideal, e) for e in CHECKPOINTS
                                  if e <= episodes},
            "below_uniform": bool(done.mean() < uniform.mean()),
            "fraction": interval(done.mean(axis=1).tolist()).to_json(),
            "regret": interval((ideal - done).mean(axis=1).tolist()).to_json(),
        }
        if swap_at is not None:
            row["after_swap"] = {str(k): _ratio(done, ideal, swap_at + k) for k in (50, 200)
                                 if swap_at + k <= episodes}
        out.append(row)
    return out


def _print(rows: list[dict[str, Any]], episodes: int, seeds: int) -> None:
    table = Table(title=f"dark pool: executed fraction as a share of the ideal's (the {WINDOW} "
                  f"episodes up to each checkpoint, {seeds} seeds; g4_swap: the first two "
                  "venues swap half way, swap+200 is 200 episodes later); regret = ideal's "
                  "fraction minus the policy's (JSON: with 95% intervals)")
    points = [str(e) for e in CHECKPOINTS if e <= episodes]
    for column in ("config", "V", "policy", *[f"@{p}" for p in points], "swap+200",
                   "regret", "<uniform"):
        table.add_column(column, justify="left" if column in ("config", "policy") else "right")
    for r in rows:
        regret = r["regret"]
        table.add_row(r["config"].replace("ganchev4", "g4"), f"{r['V']:,}", r["policy"],
                      *(f"{r['fraction_of_ideal'][p]:.0%}" for p in points),
                      f"{r['after_swap']['200']:.0%}" if "200" in r.get("after_swap", {})
                      else "",
                      f"{regret['mean']:.3f}", "yes" if r["below_uniform"] else "no")
    console().print(table)


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
        out.append({"case": f"{k} venue{'s' if k > 1 else ''}, cap {params.cap:g}",
                    "cost": c_sgd, "optimum": c_exact,
                    "gap": (c_sgd - c_exact) / abs(c_exact),
                    "x": [round(v, 3) for v in x_sgd.tolist()], "x_optimum": x_exact.tolist(),
                    "clip_rescale_cost": c_naive,
                    "x_clip_rescale": [round(v, 3) for v in x_naive.tolist()]})
    return out


def _print_cases(cases: list[dict[str, Any]]) -> None:
    table = Table(title="Cont-Kukanov: buy 10 with a market order M and limit orders L_k; "
                  "expected cost (lower is better) at the allocation (M, L_1, ...)")
    for column in ("case", "brute force", "SGD, exact projection", "gap",
                   "SGD, clip then rescale"):
        table.add_column(column, justify="left" if column == "case" else "right")
    for c in cases:
        table.add_row(c["case"], f"{c['optimum']:.3f} at {c['x_optimum']}",
                      f"{c['cost']:.3f} at {[round(v, 1) for v in c['x']]}", f"{c['gap']:.2%}",
                      f"{c['clip_rescale_cost']:.3f} at "
                      f"{[round(v, 1) for v in c['x_clip_rescale']]}")
    console().print(table)
