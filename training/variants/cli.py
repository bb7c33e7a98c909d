"""CLI of the training variants (wired into `python -m training`).

python -m training rm --base DIR --data X.jsonl [Y.jsonl ...] --out DIR [--steps 50]
    [--task NAME ...]                 (FLAMe-RM; prints a JSON summary)
python -m training tailpatch --base DIR --data X.jsonl ... --out DIR [--steps 100]
    [--target CATEGORY=TASK,TASK ...] [--weak CATEGORY ...] [--threshold CATEGORY=TAU ...]
    [--train-out DIR --train-steps N] (writes OUT/weights.json and OUT/tailpatch.json; prints
                                       the weights; --train-out trains FLAMe-Opt-RM with them)
python -m training self-taught --seed DIR --data X.jsonl ... --rounds N --out DIR
    [--steps N] [--init seed|previous] [--heldout H.jsonl ...]
                                      (prints the per-round accuracy JSON)
python -m training self-taught --generate --seed DIR --data PROMPTS.jsonl --task NAME --out DIR
    [--writer DIR] [--samples 4] [--judge-temperature 1.0] [--writer-temperature 0.8]
                                      (the loop that writes its own pairs from the task's
                                       instructions in --data, labels unused; training/variants/
                                       self_taught_loop.py)

Every variant also takes --preset (default "demo"), --set FIELD=VALUE (TrainConfig) and
--config-seed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from training.config import TrainConfig, add_set_option, parse_set

COMMANDS = ("rm", "tailpatch", "self-taught")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, nargs="+", help="interchange JSONL files")
    parser.add_argument("--out", required=True)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--steps", type=int, help="training steps (per probe / per round)")
    parser.add_argument("--config-seed", type=int, dest="config_seed")
    add_set_option(parser)


def add_parsers(sub: Any) -> None:
    rm = sub.add_parser("rm", help="FLAMe-RM: short fine-tune on an equal mix of pairwise tasks")
    rm.add_argument("--base", required=True, help="FLAMe checkpoint to start from")
    rm.add_argument("--task", action="append", help="only these pairwise tasks (repeatable)")
    _common(rm)
    tp = sub.add_parser("tailpatch", help="tail-patch probes -> FLAMe-Opt-RM mixture weights")
    tp.add_argument("--base", required=True, help="partially trained checkpoint")
    tp.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="CATEGORY=TASK,TASK",
        help="a target category and its tasks (repeatable); default: every task is one",
    )
    tp.add_argument("--probe", action="append", help="tail-patch only these tasks")
    tp.add_argument("--weak", action="append", default=[], help="a weak category (top-2 rule)")
    tp.add_argument("--threshold", action="append", default=[], metavar="CATEGORY=TAU")
    tp.add_argument("--eval-points", type=int, default=2)
    tp.add_argument("--max-eval", type=int, default=256, help="held-out items per category")
    tp.add_argument("--significant", type=float, default=0.05)
    tp.add_argument("--slight", type=float, default=0.01)
    tp.add_argument("--train-out", help="then train FLAMe-Opt-RM from scratch with the weights")
    tp.add_argument("--train-steps", type=int, help="steps of the FLAMe-Opt-RM run")
    _common(tp)
    st = sub.add_parser("self-taught", help="Self-Taught Evaluator rounds from a seed judge")
    st.add_argument("--seed", required=True, help="seed judge checkpoint")
    st.add_argument("--rounds", type=int, default=3)
    st.add_argument("--init", choices=("seed", "previous"), default="seed")
    st.add_argument("--heldout", nargs="+", help="held-out JSONL (default: split from --data)")
    st.add_argument("--max-pairs", type=int, help="synthetic pairs per round (default: all)")
    st.add_argument("--top-k", type=int, default=5)
    st.add_argument("--generate", action="store_true", help="write the pairs (the paper's loop)")
    st.add_argument("--task", help="--generate: the pairwise task (default: the only one)")
    st.add_argument("--writer", help="--generate: generator checkpoint (default: the judge)")
    st.add_argument("--samples", type=int, default=4, help="--generate: judgments per pair")
    st.add_argument("--judge-temperature", type=float, default=1.0)
    st.add_argument("--writer-temperature", type=float, default=0.8)
    _common(st)


def _config(args: argparse.Namespace, default_steps: int | None = None) -> TrainConfig:
    overrides: dict[str, Any] = {}
    steps = args.steps if args.steps is not None else default_steps
    if steps is not None:
        overrides["steps"] = steps
    if args.config_seed is not None:
        overrides["seed"] = args.config_seed
    overrides.update(parse_set(args.set))
    return TrainConfig.preset(args.preset, **overrides)


def _load(paths: list[str]):
    from training.loop.data import load_snapshots

    return load_snapshots(paths)


def _pairs(values: list[str], what: str) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key or not rest:
            raise ValueError(f"{what} {value!r} is not KEY=VALUE")
        out[key] = rest
    return out


def _progress(step: int, total: int, loss: float) -> None:
    print(f"step {step}/{total} loss {loss:.4f}", file=sys.stderr, flush=True)


def main(args: argparse.Namespace) -> int:
    from judging.task_format import FormatError

    try:
        tasks, examples = _load(args.data)
        if args.command == "rm":
            return _rm(args, tasks, examples)
        if args.command == "tailpatch":
            return _tailpatch(args, tasks, examples)
        return _self_taught(args, tasks, examples)
    except (FormatError, FileNotFoundError, ValueError, TypeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _rm(args, tasks, examples) -> int:
    from training.variants.rm import DEFAULT_RM_STEPS, finetune_rm

    config = _config(args, DEFAULT_RM_STEPS)
    result = finetune_rm(
        args.base, tasks, examples, config, args.out, on_progress=_progress, task_names=args.task
    )
    from judging.checkpoint import load_checkpoint

    variant = load_checkpoint(result.checkpoint_dir).metadata.get("variant", {})
    print(
        json.dumps(
            {
                "checkpoint_dir": str(result.checkpoint_dir),
                "steps": result.steps,
                "final_loss": result.final_loss,
                "tasks": variant.get("tasks"),
                "mixture_weights": variant.get("mixture_weights"),
            },
            indent=2,
        )
    )
    return 0


def _tailpatch(args, tasks, examples) -> int:
    from training.loop import train
    from training.variants.tailpatch import DEFAULT_PROBE_STEPS, tailpatch

    config = _config(args, DEFAULT_PROBE_STEPS)
    targets = None
    if args.target:
        targets = {c: names.split(",") for c, names in _pairs(args.target, "--target").items()}
    thresholds = {c: float(v) for c, v in _pairs(args.threshold, "--threshold").items()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def on_probe(probe: dict) -> None:
        deltas = {c: round(v["delta"], 4) for c, v in probe["categories"].items()}
        print(f"probe {probe['task']}: deltas {json.dumps(deltas)}", file=sys.stderr, flush=True)

    result = tailpatch(
        args.base,
        tasks,
        examples,
        config,
        out / "probes",
        targets,
        probe_tasks=args.probe,
        eval_points=args.eval_points,
        max_eval=args.max_eval,
        on_probe=on_probe,
        significant=args.significant,
        slight=args.slight,
        thresholds=thresholds or None,
        weak_categories=args.weak,
    )
    (out / "weights.json").write_text(json.dumps(result["weights"], indent=2, sort_keys=True))
    (out / "tailpatch.json").write_text(json.dumps(result, indent=2, sort_keys=True))
    summary: dict[str, Any] = {
        "weights": result["weights"],
        "bundles": result["bundles"],
        "ratings": result["ratings"],
        "base": result["base"],
        "weights_file": str(out / "weights.json"),
    }
    if args.train_out:
        steps = args.train_steps or config.steps
        final = train(
            tasks,
            examples,
            config.replace(steps=steps, mixture_weights=result["weights"]),
            args.train_out,
            on_progress=_progress,
        )
        summary["opt_rm"] = {
            "checkpoint_dir": str(final.checkpoint_dir),
            "steps": final.steps,
            "final_loss": final.final_loss,
        }
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0


def _self_taught_generative(args, tasks, examples, config, heldout) -> int:
    from judging.task_format import TaskType
    from training.variants.self_taught_loop import self_taught_generative
    from training.variants.self_taught_writer import instruction_field

    pairwise = [t for t in tasks.values() if t.type is TaskType.PAIRWISE]
    if args.task is None and len(pairwise) != 1:
        raise ValueError(f"--task: name one of the pairwise tasks {[t.name for t in pairwise]}")
    task = tasks.get(args.task) if args.task else pairwise[0]
    if task is None:
        raise ValueError(f"--task {args.task!r}: not a task of --data")
    field = instruction_field(task)
    prompts = [str(e.context.get(field, "")) for e in examples if e.task == task.name]

    def on_round(entry: dict) -> None:
        shown = {k: v for k, v in entry.items() if k not in ("checkpoint", "kept_pairs_shown")}
        print(f"round {json.dumps(shown)}", file=sys.stderr, flush=True)

    result = self_taught_generative(
        args.seed,
        task,
        prompts,
        config,
        args.out,
        rounds=args.rounds,
        writer_checkpoint=args.writer,
        samples=args.samples,
        judge_temperature=args.judge_temperature,
        writer_temperature=args.writer_temperature,
        heldout=heldout or (),
        heldout_tasks=tasks,
        init=args.init,
        on_round=on_round,
    )
    keys = ("round", "accuracy", "written", "pairs", "kept", "balanced", "kept_pairs_file")
    rounds = [{k: entry.get(k) for k in keys} for entry in result["rounds"]]
    print(
        json.dumps(
            {
                **{k: result[k] for k in ("seed_accuracy", "final_accuracy", "final_checkpoint")},
                "rounds": rounds,
            },
            indent=2,
        )
    )
    return 0


def _self_taught(args, tasks, examples) -> int:
    from training.variants.self_taught import self_taught

    config = _config(args)
    heldout = None
    if args.heldout:
        held_tasks, heldout = _load(args.heldout)
        tasks = {**held_tasks, **tasks}
    if args.generate:
        return _self_taught_generative(args, tasks, examples, config, heldout)

    def on_round(entry: dict) -> None:
        shown = {k: v for k, v in entry.items() if k != "checkpoint"}
        print(f"round {json.dumps(shown)}", file=sys.stderr, flush=True)

    result = self_taught(
        args.seed,
        tasks,
        examples,
        config,
        args.out,
        rounds=args.rounds,
        heldout=heldout,
        init=args.init,
        top_k=args.top_k,
        max_pairs=args.max_pairs,
        on_round=on_round,
    )
    print(
        json.dumps(
            {
                "seed_accuracy": result["seed_accuracy"],
                "final_accuracy": result["final_accuracy"],
                "rounds": [
                    {k: entry.get(k) for k in ("round", "accuracy", "kept", "balanced", "pairs")}
                    for entry in result["rounds"]
                ],
                "final_checkpoint": result["final_checkpoint"],
            },
            indent=2,
        )
    )
    return 0
