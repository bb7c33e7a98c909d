"""`python -m training recipe default|teacher --out DIR [--profile quick|default|accelerator]`:
converts shared/data, splits by prompt, trains, evaluates (training/recipes/run.py)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from training.config import add_set_option, parse_set
from training.recipes.data import DEFAULT_DATA
from training.recipes.model_card import BASELINE_NAMES
from training.recipes.profiles import PROFILES


def add_parser(sub) -> None:
    """`python -m training recipe default|teacher --out DIR [--profile P] ...`"""
    cmd = sub.add_parser("recipe", help="convert, split, mix, train and evaluate a judge")
    cmd.add_argument("recipe", choices=("default", "teacher"))
    cmd.add_argument("--out", required=True)
    cmd.add_argument(
        "--profile",
        default="default",
        choices=sorted(PROFILES),
        help="quick: minutes (development); default: the one-hour CPU recipe; "
        "accelerator: a larger model for one GPU, 30 minutes",
    )
    cmd.add_argument("--accelerator", action="store_true", help="same as --profile accelerator")
    cmd.add_argument("--data-root", default=str(DEFAULT_DATA))
    cmd.add_argument("--seed", type=int, default=0)
    cmd.add_argument("--source", action="append", help="only these dataset folders")
    cmd.add_argument("--eval-split", default="test", choices=("dev", "test"))
    cmd.add_argument(
        "--explanations",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="teacher: train the AlpacaEval judges' rationales after their verdicts (default: "
        "the profile's teacher_explanations, on in quick and accelerator); --no-explanations: "
        "their records train the verdict alone",
    )
    add_set_option(cmd)


def main(args) -> int:
    from training.recipes.run import run_recipe

    profile = PROFILES["accelerator" if args.accelerator else args.profile]
    if args.explanations is not None:
        profile = dataclasses.replace(profile, teacher_explanations=args.explanations)
    try:
        overrides = parse_set(args.set)
        report = run_recipe(
            args.recipe,
            args.out,
            profile=profile,
            data_root=args.data_root,
            seed=args.seed,
            sources=args.source,
            overrides=overrides,
            eval_split=args.eval_split,
            log=lambda line: print(line, file=sys.stderr, flush=True),
        )
    except (ValueError, TypeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    pooled = report["pooled_pairwise_human"]
    print(
        json.dumps(
            {
                "out": str(args.out),
                "pooled_pairwise_human": {
                    name: pooled[name]["accuracy"]["value"]
                    for name in (report["judge_name"], *BASELINE_NAMES)
                },
                "timings": report["timings"],
                **(
                    {"explanations": _explained(report["explanations"])}
                    if "explanations" in report
                    else {}
                ),
            },
            indent=2,
        )
    )
    return 0


def _explained(explanations: dict) -> dict:
    """The report's explanation counts, without the samples."""
    return {
        "train_examples": explanations["train"]["examples"],
        **{k: explanations[k] for k in ("n", "generated", "with_explanation", "names_verdict")},
    }
