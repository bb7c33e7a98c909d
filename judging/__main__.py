"""CLI.

python -m judging judge --model DIR --input IN.jsonl --output OUT.jsonl
python -m judging convert FORMAT SOURCE... -o OUT.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from judging.task_format import FormatError, read_jsonl


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m judging")
    sub = parser.add_subparsers(dest="command", required=True)
    judge_cmd = sub.add_parser("judge", help="judge interchange JSONL items with a checkpoint")
    judge_cmd.add_argument("--model", required=True, help="checkpoint directory")
    judge_cmd.add_argument("--input", required=True, help="interchange JSONL (one Example a line)")
    judge_cmd.add_argument("--output", required=True, help="verdicts JSONL ('-' for stdout)")
    judge_cmd.add_argument(
        "--one-order", action="store_true", help="judge pairwise items in the given order only"
    )
    judge_cmd.add_argument("--batch-size", type=int, default=32)
    convert_cmd = sub.add_parser("convert", help="convert a dataset to interchange JSONL")
    convert_cmd.add_argument("format", help="dataset format, e.g. summedits (see --list)")
    convert_cmd.add_argument("sources", nargs="+", type=Path, help="source files or folders")
    convert_cmd.add_argument("-o", "--output", required=True, type=Path)
    convert_cmd.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="converter option, e.g. a CSV column map: --option columns=prompt:question,...",
    )
    args = parser.parse_args(argv)
    if args.command == "convert":
        return _convert(args)

    try:
        tasks, examples = read_jsonl(args.input)
    except FormatError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from judging.inference import Judge

    judge = Judge.load(args.model)
    verdicts = judge.judge(
        tasks, examples, both_orders=not args.one_order, batch_size=args.batch_size
    )
    lines = [json.dumps(v.to_dict(), ensure_ascii=False, sort_keys=True) for v in verdicts]
    if args.output == "-":
        sys.stdout.write("".join(line + "\n" for line in lines))
    else:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.writelines(line + "\n" for line in lines)
    invalid = sum(not v.valid for v in verdicts)
    print(f"judged {len(verdicts)} items ({invalid} invalid)", file=sys.stderr)
    return 0


def _convert(args: argparse.Namespace) -> int:
    from judging.converters import convert
    from judging.task_format import write_jsonl_atomic

    options = dict(option.split("=", 1) for option in args.option)
    try:
        tasks, examples = convert(args.format, args.sources, **options)
        counts = write_jsonl_atomic(args.output, tasks.values(), examples)
    except FormatError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        json.dumps(
            {"output": str(args.output), "examples": sum(counts.values()), "per_task": counts},
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
