"""CLI.

    python -m training train --data SNAPSHOT.jsonl --out DIR [--preset demo] [--steps N]
    python -m training evaluate --model DIR --data FILE.jsonl      (prints JSON)
"""

from __future__ import annotations

import argparse
import json
import sys

from judging.task_format import FormatError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training")
    sub = parser.add_subparsers(dest="command", required=True)
    train_cmd = sub.add_parser("train", help="train a judge on a JSONL snapshot")
    train_cmd.add_argument("--data", required=True)
    train_cmd.add_argument("--out", required=True)
    train_cmd.add_argument("--preset", default="demo")
    train_cmd.add_argument("--steps", type=int)
    train_cmd.add_argument("--seed", type=int)
    eval_cmd = sub.add_parser("evaluate", help="evaluate a checkpoint on labelled JSONL")
    eval_cmd.add_argument("--model", required=True)
    eval_cmd.add_argument("--data", required=True)
    args = parser.parse_args(argv)

    # Imported here so `--help` stays fast.
    from judging.inference import Judge
    from training.config import TrainConfig
    from training.evaluate import evaluate
    from training.train import load_snapshot, train

    try:
        tasks, examples = load_snapshot(args.data)
    except FormatError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.command == "train":
        overrides = {k: v for k, v in (("steps", args.steps), ("seed", args.seed)) if v is not None}
        config = TrainConfig.preset(args.preset, **overrides)

        def progress(step: int, total: int, loss: float) -> None:
            print(f"step {step}/{total} loss {loss:.4f}", file=sys.stderr, flush=True)

        result = train(tasks, examples, config, args.out, on_progress=progress)
        print(json.dumps({"checkpoint_dir": str(result.checkpoint_dir), "steps": result.steps,
                          "final_loss": result.final_loss}))
        return 0
    report = evaluate(Judge.load(args.model), tasks, examples)
    print(json.dumps(report, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
