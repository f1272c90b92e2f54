"""`tokenmill routing eval FILE.csv [--plot out.png]`: score a labelled CSV with the shipped router.

FILE has columns prompt,weak,strong (each model's outcome for the prompt, a number in [0, 1] or
True/False); --weak-column/--strong-column name other columns (RouteLLM's response files name
them after the models). Prints APGR, CPT(50%), CPT(80%) and the quality-versus-strong-share
curve for the router, a random router and an oracle, then a bootstrap interval of the router's
APGR; the last line is `APGR <number>` (the shipped router's).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from routing.evaluate import RoutingReport, apgr_interval, format_table, oracle_report, random_report, report

# A prompt may be a long agent context: far above the csv module's default 131,072-character field limit.
FIELD_SIZE_LIMIT = 2**31 - 1
PLOT_FORMATS = (".png", ".svg", ".pdf", ".jpg", ".jpeg")


def write_eval_csv(path: Path, rows: Iterable[Sequence[object]]) -> None:
    """An eval file: `prompt,weak,strong` and one row per prompt."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["prompt", "weak", "strong"])
        writer.writerows(rows)


def read_eval_csv(path: Path, weak_column: str = "weak", strong_column: str = "strong") -> tuple[list[str], np.ndarray, np.ndarray]:
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    prompts: list[str] = []
    weak: list[float] = []
    strong: list[float] = []
    if csv.field_size_limit() < FIELD_SIZE_LIMIT:
        csv.field_size_limit(FIELD_SIZE_LIMIT)
    with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: spreadsheets start UTF-8 CSVs with a BOM
        reader = csv.DictReader(f)
        try:
            wanted = ("prompt", weak_column, strong_column)
            missing = set(wanted) - set(reader.fieldnames or ())
            if missing:
                raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}; expected {','.join(wanted)}")
            for row in reader:
                try:
                    w, s = _outcome(row[weak_column]), _outcome(row[strong_column])
                except ValueError as e:
                    raise ValueError(f"{path}:{reader.line_num}: {e}") from None
                prompts.append(row["prompt"] or "")
                weak.append(w)
                strong.append(s)
        except UnicodeDecodeError:
            raise ValueError(f"{path}: not UTF-8 text (after line {reader.line_num})") from None
        except csv.Error as e:
            raise ValueError(f"{path}:{reader.line_num}: not a readable CSV ({e})") from None
    if not prompts:
        raise ValueError(f"{path}: no rows")
    return prompts, np.array(weak), np.array(strong)


def _outcome(value: str | None) -> float:
    text = (value or "").strip()
    if text.lower() in ("true", "false"):
        return float(text.lower() == "true")
    try:
        x = float(text)
    except ValueError:
        raise ValueError(f"outcome {value!r} is not a number in [0, 1]") from None
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"outcome {x} is outside [0, 1]")
    return x


def plot(reports: Sequence[RoutingReport], out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for r in reports:
        ax.plot(r.curve.share * 100, r.curve.quality, label=f"{r.name} (APGR {r.apgr:.3f})")
    ax.set_xlabel("strong-model calls (%)")
    ax.set_ylabel("mean quality")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options, on its own parser or on `tokenmill routing eval`'s."""
    parser.add_argument("file", type=Path, help="CSV with columns prompt,weak,strong")
    parser.add_argument("--plot", type=Path, help="write the quality-versus-share curve as a PNG (or .svg, .pdf, .jpg; needs matplotlib)")
    parser.add_argument("--weak-column", default="weak", help="column with the weak model's outcomes (default: weak)")
    parser.add_argument("--strong-column", default="strong", help="column with the strong model's outcomes (default: strong)")
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="resamples for the APGR interval (0: none)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tokenmill routing eval", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    if args.plot is not None and not args.plot.suffix:
        args.plot = args.plot.with_suffix(".png")
    if args.plot is not None and args.plot.suffix.lower() not in PLOT_FORMATS:
        print(f"error: --plot {args.plot}: the file name must end in one of {', '.join(PLOT_FORMATS)}", file=sys.stderr)
        return 2
    if args.plot is not None and importlib.util.find_spec("matplotlib") is None:
        print("error: --plot needs matplotlib, which is not installed (pip install matplotlib)", file=sys.stderr)
        return 2
    if args.plot is not None:
        try:  # before the work, so a plot path that cannot be written costs nothing
            args.plot.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            print(f"error: --plot {args.plot}: cannot create its folder ({e.strerror or e})", file=sys.stderr)
            return 2
    try:
        if args.bootstrap < 0:
            raise ValueError(f"--bootstrap must be 0 or more, got {args.bootstrap}")
        prompts, weak, strong = read_eval_csv(args.file, args.weak_column, args.strong_column)
        from routing.router import get_router

        scores = get_router().score_prompts(prompts)
        reports = [report("router", scores, weak, strong), random_report(weak, strong), oracle_report(weak, strong)]
        interval = apgr_interval(scores, weak, strong, draws=args.bootstrap) if args.bootstrap else None
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{args.file}: {len(prompts)} prompts")
    print(format_table(reports, float(weak.mean()), float(strong.mean())))
    if args.plot is not None:
        try:
            plot(reports, args.plot, args.file.name)
        except OSError as e:
            print(f"error: --plot {args.plot}: cannot write it ({e.strerror or e})", file=sys.stderr)
            return 2
        print(f"plot written to {args.plot}")
    if interval is not None:
        print(f"router APGR 95% interval: {interval[0]:.3f} .. {interval[1]:.3f} (bootstrap, {args.bootstrap} resamples of the prompts)")
    print(f"APGR {reports[0].apgr:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
