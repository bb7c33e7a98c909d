"""CLI.

python -m training train --data SNAPSHOT.jsonl --out DIR [--preset demo] [--steps N]
    [--set FIELD=VALUE ...] [--state-dir DIR] [--init DIR]
    [--lora-rank R [--lora-alpha A] [--lora-targets q,k,v,o]] [--remat]
    (--init: an Ember, adapter or Hugging Face checkpoint directory, training/init.py; with
    --lora-rank OUT is an adapter-only checkpoint, training/lora.py)
python -m training export-hf --model DIR --out DIR   (merged Hugging Face safetensors export)
    (multi-process: set EMBER_COORDINATOR, EMBER_NUM_PROCESSES, EMBER_PROCESS_ID per process)
python -m training evaluate --model DIR --data FILE.jsonl      (prints JSON)
python -m training evaluate --model DIR --data A.jsonl B.jsonl --report OUT_DIR
    (writes OUT_DIR/report.json and PNG pictures; see evaluation/report.py)
python -m training recipe default|teacher --out DIR [--profile quick|default|accelerator]
    (converts shared/data, splits by prompt, trains, evaluates; see training/recipes/)
python -m training rm|tailpatch|self-taught ...   (the variants; see training/variants/cli.py)

Every training command takes `--set FIELD=VALUE` (training/config.py parse_set).
"""

from __future__ import annotations

import argparse
import json
import sys

from judging.task_format import FormatError
from training.config import TrainConfig, add_set_option, parse_set


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training")
    sub = parser.add_subparsers(dest="command", required=True)
    train_cmd = sub.add_parser("train", help="train a judge on a JSONL snapshot")
    train_cmd.add_argument("--data", required=True)
    train_cmd.add_argument("--out", required=True)
    train_cmd.add_argument("--preset", default="demo")
    train_cmd.add_argument("--steps", type=int)
    train_cmd.add_argument("--seed", type=int)
    add_set_option(train_cmd)
    train_cmd.add_argument("--state-dir", help="resumable state; resumes if it holds one")
    train_cmd.add_argument(
        "--init",
        "--init-checkpoint",
        dest="init",
        help="start from this checkpoint: Ember, adapter or Hugging Face layout",
    )
    train_cmd.add_argument("--lora-rank", type=int, help="train rank-R LoRA adapters only")
    train_cmd.add_argument("--lora-alpha", type=float, help="LoRA scale numerator (16)")
    train_cmd.add_argument("--lora-targets", help="comma-separated: q,k,v,o,gate,up,down")
    train_cmd.add_argument(
        "--remat", action="store_true", default=None, help="recompute activations (nnx.remat)"
    )
    export_cmd = sub.add_parser("export-hf", help="write a checkpoint as Hugging Face files")
    export_cmd.add_argument("--model", required=True, help="Ember, adapter or HF checkpoint")
    export_cmd.add_argument("--out", required=True)
    eval_cmd = sub.add_parser("evaluate", help="evaluate a checkpoint on labelled JSONL")
    eval_cmd.add_argument("--model", required=True)
    eval_cmd.add_argument("--data", required=True, nargs="+")
    eval_cmd.add_argument("--report", help="write report.json and pictures to this folder")
    eval_cmd.add_argument("--seed", type=int, default=0)
    eval_cmd.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples")
    eval_cmd.add_argument("--no-bias", action="store_true", help="skip the bias probes")
    eval_cmd.add_argument(
        "--own",
        help="JSON file {example id: 'A' or 'B'}: the judge's own responses (egocentric bias)",
    )
    from training.recipes import cli as recipe_cli
    from training.variants import cli as variants_cli

    recipe_cli.add_parser(sub)
    variants_cli.add_parsers(sub)
    args = parser.parse_args(argv)
    if args.command == "recipe":
        return recipe_cli.main(args)
    if args.command in variants_cli.COMMANDS:
        return variants_cli.main(args)
    if args.command == "export-hf":
        from judging.hf_export import export_hf

        try:
            out = export_hf(args.model, args.out)
        except (ValueError, FileNotFoundError, KeyError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(json.dumps({"hf_dir": str(out)}))
        return 0

    # Imported here so `--help` stays fast.
    from evaluation.evaluate import evaluate
    from judging.inference import Judge
    from training.loop import train
    from training.loop.data import load_snapshots

    try:
        tasks, examples = load_snapshots(args.data if isinstance(args.data, list) else [args.data])
    except FormatError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.command == "train":
        targets = args.lora_targets.split(",") if args.lora_targets else None
        flags = (
            ("steps", args.steps),
            ("seed", args.seed),
            ("lora_rank", args.lora_rank),
            ("lora_alpha", args.lora_alpha),
            ("lora_targets", targets),
            ("remat", args.remat),
        )
        overrides = {k: v for k, v in flags if v is not None}
        try:
            overrides.update(parse_set(args.set))
            config = TrainConfig.preset(args.preset, **overrides)
        except (ValueError, TypeError) as error:
            print(f"error: bad --set/--preset: {error}", file=sys.stderr)
            return 2

        def progress(step: int, total: int, loss: float) -> None:
            print(f"step {step}/{total} loss {loss:.4f}", file=sys.stderr, flush=True)

        try:
            result = train(
                tasks,
                examples,
                config,
                args.out,
                on_progress=progress,
                state_dir=args.state_dir,
                init_checkpoint=args.init,
            )
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(
            json.dumps(
                {
                    "checkpoint_dir": str(result.checkpoint_dir),
                    "steps": result.steps,
                    "final_loss": result.final_loss,
                }
            )
        )
        return 0
    if args.report:
        from evaluation.report import full_report, write_report

        own = json.loads(open(args.own, encoding="utf-8").read()) if args.own else None
        report = full_report(
            Judge.load(args.model),
            tasks,
            examples,
            n_bootstrap=args.bootstrap,
            seed=args.seed,
            bias=not args.no_bias,
            own=own,
        )
        report["model"] = str(args.model)
        report["data"] = [str(p) for p in args.data]
        written = write_report(report, args.report)
        print(json.dumps({"report": str(written[0]), "files": [str(p) for p in written]}))
        return 0
    report = evaluate(Judge.load(args.model), tasks, examples)
    print(json.dumps(report, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
