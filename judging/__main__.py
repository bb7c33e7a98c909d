"""CLI: python -m judging judge --model DIR --input IN.jsonl --output OUT.jsonl"""

from __future__ import annotations

import argparse
import json
import sys

from judging.inference import Judge
from judging.task_format import FormatError, read_jsonl


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m judging")
    sub = parser.add_subparsers(dest="command", required=True)
    judge_cmd = sub.add_parser("judge", help="judge interchange JSONL items with a checkpoint")
    judge_cmd.add_argument("--model", required=True, help="checkpoint directory")
    judge_cmd.add_argument("--input", required=True, help="interchange JSONL (one Example a line)")
    judge_cmd.add_argument("--output", required=True, help="verdicts JSONL ('-' for stdout)")
    judge_cmd.add_argument("--one-order", action="store_true",
                           help="judge pairwise items in the given order only")
    judge_cmd.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)

    try:
        tasks, examples = read_jsonl(args.input)
    except FormatError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    judge = Judge.load(args.model)
    verdicts = judge.judge(tasks, examples, both_orders=not args.one_order,
                           batch_size=args.batch_size)
    lines = [json.dumps(v.to_dict(), ensure_ascii=False, sort_keys=True) for v in verdicts]
    if args.output == "-":
        sys.stdout.write("".join(line + "\n" for line in lines))
    else:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.writelines(line + "\n" for line in lines)
    invalid = sum(not v.valid for v in verdicts)
    print(f"judged {len(verdicts)} items ({invalid} invalid)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
