"""A recipe run: `build_data` (every dataset converted, split by prompt, subsampled, plus the
demo, Self-Taught and teacher examples), the FLAMe-style `mixture`, then `run_recipe` trains,
evaluates and writes OUT/model, OUT/report, OUT/recipe.json and OUT/model_card.md.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from judging.demo_tasks import DEMO_TASKS, generate_demo_examples
from judging.task_format import Example, Task, TaskType, render_outputs
from training.recipes.data import (
    DEFAULT_DATA,
    EXCLUDED_SOURCES,
    HUMAN_SOURCES,
    SELF_TAUGHT_PREFIX,
    SPLITS,
    TEACHER_SOURCE,
    by_task,
    fit_example,
    fit_leaving_room,
    load_sources,
    prompt_key,
    self_taught_examples,
    split_examples,
    subsample,
    training_views,
)
from training.recipes.evaluation import evaluate_recipe
from training.recipes.model_card import git_commit, model_card
from training.recipes.profiles import PROFILES, Profile
from training.recipes.teacher import (
    TEACHER_COT_TASK,
    TEACHER_TASK,
    TEACHER_TASKS,
    teacher_examples,
)


def mixture(
    tasks: Mapping[str, Task], counts: Mapping[str, int], profile: Profile
) -> dict[str, float]:
    """FLAMe examples-proportional weights with the profile's cap, human pairwise tasks
    multiplied by `pairwise_boost`, self-taught and teacher tasks by their multipliers."""
    cap = profile.train.per_task_cap
    weights = {}
    for name, n in counts.items():
        weight = float(min(n, cap))
        if name.startswith(SELF_TAUGHT_PREFIX):
            weight *= profile.self_taught_weight
        elif name in TEACHER_TASKS:
            weight *= profile.teacher_weight
        elif tasks[name].type is TaskType.PAIRWISE and name not in {t.name for t in DEMO_TASKS}:
            weight *= profile.pairwise_boost
        weights[name] = weight
    total = sum(weights.values())
    return {name: w / total for name, w in sorted(weights.items()) if w > 0}


def build_data(
    recipe: str,
    data_root: Path,
    profile: Profile,
    seed: int = 0,
    sources: Sequence[str] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every dataset of the recipe, converted, split, subsampled and fitted."""
    if recipe not in ("default", "teacher"):
        raise ValueError(f"unknown recipe {recipe!r}; known: default, teacher")
    folders = list(sources if sources is not None else HUMAN_SOURCES)
    for folder in folders:
        if folder not in HUMAN_SOURCES:
            raise ValueError(f"{folder!r} is not a permissively licensed human-labelled set")
        if not (data_root / folder).is_dir():
            raise ValueError(f"{data_root / folder}: no such dataset folder")
    tasks, human, info = load_sources(data_root, folders)
    log(f"converted {len(human)} human-labelled examples of {len(tasks)} tasks")
    for task in DEMO_TASKS:
        tasks[task.name] = task
    demo = generate_demo_examples(profile.demo_per_task, seed=seed)
    info["demo (judging/demo_tasks.py)"] = {
        "license": "generated (project)",
        "tasks": [t.name for t in DEMO_TASKS],
        "examples": len(demo),
    }
    splits = split_examples(tasks, [*human, *demo], profile.test_percent, profile.dev_percent)
    teacher_info = None
    if recipe == "teacher":
        t_tasks, t_examples, teacher_info = teacher_examples(
            data_root,
            profile.teacher_examples,
            seed,
            profile.teacher_scan,
            explanations=profile.teacher_explanations,
            explained_limit=profile.teacher_explained,
        )
        tasks.update(t_tasks)
        for name, rows in split_examples(
            tasks, t_examples, profile.test_percent, profile.dev_percent
        ).items():
            splits[name].extend(rows)
        info[TEACHER_SOURCE] = teacher_info
    st_tasks, st_pairs = self_taught_examples(
        tasks,
        # The CoT records' instructions are the teacher task's: no second self-taught copy.
        [e for e in splits["train"] if e.task != TEACHER_COT_TASK],
        profile.self_taught_per_task,
        profile.self_taught_top_k,
        seed,
        profile.perturbed_per_task,
        profile.tie_per_task,
    )
    tasks.update(st_tasks)
    info["self-taught (training/variants/self_taught_pairs.py)"] = {
        "license": "derived from the training split above",
        "tasks": sorted(st_tasks),
        "examples": len(st_pairs),
    }
    train_rows: list[Example] = []
    for name, rows in sorted(by_task(splits["train"]).items()):
        train_rows.extend(subsample(rows, profile.max_train_per_task, f"{seed}:train:{name}"))
    train_rows.extend(st_pairs)
    heldout: list[Example] = []
    for name, rows in sorted(by_task(splits["test"]).items()):
        pairwise = tasks[name].type is TaskType.PAIRWISE
        limit = profile.max_eval_pairwise if pairwise else profile.max_eval_per_task
        heldout.extend(subsample(rows, limit, f"{seed}:test:{name}"))
    dev = []
    for name, rows in sorted(by_task(splits["dev"]).items()):
        pairwise = tasks[name].type is TaskType.PAIRWISE
        limit = profile.max_eval_pairwise if pairwise else profile.max_eval_per_task
        dev.extend(subsample(rows, limit, f"{seed}:dev:{name}"))
    counts = {
        name: {s: sum(e.task == name for e in splits[s]) for s in SPLITS}
        for name in sorted({e.task for s in SPLITS for e in splits[s]})
    }
    return {
        "tasks": tasks,
        "splits": splits,
        "train": train_rows,
        "train_fitted": [fit_example(tasks[e.task], e, profile) for e in train_rows],
        "dev": dev,
        "test": heldout,
        "sources": info,
        "split_counts": counts,
        "teacher": teacher_info,
    }


def check_disjoint(tasks: Mapping[str, Task], splits: Mapping[str, Sequence[Example]]) -> dict:
    """Prompt keys per split; raises AssertionError if a prompt sits in two splits."""
    keys = {name: {prompt_key(tasks[e.task], e) for e in rows} for name, rows in splits.items()}
    for a in SPLITS:
        for b in SPLITS:
            if a < b and keys[a] & keys[b]:
                raise AssertionError(f"prompts in both {a} and {b}: {len(keys[a] & keys[b])}")
    return {name: len(k) for name, k in keys.items()}


def run_recipe(
    recipe: str,
    out_dir: str | Path,
    *,
    profile: str | Profile = "default",
    data_root: str | Path = DEFAULT_DATA,
    seed: int = 0,
    sources: Sequence[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    eval_split: str = "test",
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Build the data, train, evaluate; write OUT/model, OUT/report, OUT/recipe.json and
    OUT/model_card.md. `overrides`: TrainConfig fields on top of the profile's."""
    from evaluation.lexical import train_lexical
    from evaluation.report import write_report
    from judging.inference import Judge
    from training.loop import train
    from training.loop.data import corpus_tokenizer

    started, cpu_started = time.monotonic(), time.process_time()
    if isinstance(profile, str) and profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known: {sorted(PROFILES)}")
    prof = PROFILES[profile] if isinstance(profile, str) else profile
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = build_data(recipe, Path(data_root), prof, seed, sources, log)
    tasks = data["tasks"]
    disjoint = check_disjoint(tasks, data["splits"])
    if recipe == "default" and any(e.task in TEACHER_TASKS for e in data["train"]):
        raise AssertionError("teacher data in the default recipe")
    timings = {"data_seconds": round(time.monotonic() - started, 1)}
    log(
        f"data: {len(data['train'])} training rows, {len(data[eval_split])} held-out "
        f"({eval_split}) items, {timings['data_seconds']} s"
    )

    config = prof.train.replace(**{"seed": seed, **dict(overrides or {})})
    train_tasks = {name: tasks[name] for name in dict.fromkeys(e.task for e in data["train"])}
    tokenizer = corpus_tokenizer(train_tasks, data["train_fitted"], config.vocab_size)
    count = _token_counter(tokenizer)
    # Examples with an explanation train the whole EVALUATION block (evaluation_block, unless
    # the overrides say otherwise); one whose explanation would take more than half the window
    # keeps its verdict alone, as a verdict-only teacher example.
    explained = any(e.outputs for e in data["train"])
    if explained and "evaluation_block" not in dict(overrides or {}):
        config = config.replace(evaluation_block=True)
    train_rows, rooms, too_long = [], [], 0
    for example in data["train"]:
        room = 0
        if config.evaluation_block and example.outputs:
            rest = render_outputs(tasks[example.task], example)
            room = len(tokenizer.encode(rest)) + 2  # + the verdict's token and EOS
            if room > config.max_len // 2:
                example = dataclasses.replace(example, task=TEACHER_TASK, outputs=None)
                too_long, room = too_long + 1, 0
        train_rows.append(example)
        rooms.append(room)
    counts: dict[str, int] = {}
    for example in train_rows:
        counts[example.task] = counts.get(example.task, 0) + 1
    weights = mixture(tasks, counts, prof)
    config = config.replace(mixture_weights=weights)
    train_tasks = {name: tasks[name] for name in counts}
    train_fitted = [
        view
        for e, room in zip(train_rows, rooms, strict=True)
        for view in training_views(tasks[e.task], e, prof, count, config.max_len, room)
    ]
    t0, c0 = time.monotonic(), time.process_time()

    def progress(step: int, total: int, loss: float) -> None:
        rate = step / max(time.monotonic() - t0, 1e-9)
        cpu = (time.process_time() - c0) / step
        log(f"step {step}/{total} loss {loss:.4f} ({rate:.2f} steps/s, {cpu:.2f} CPU-s/step)")

    result = train(
        train_tasks,
        train_fitted,
        config,
        out / "model",
        on_progress=progress,
        state_dir=out / "state" if config.checkpoint_every else None,
        tokenizer=tokenizer,
    )
    timings["train_seconds"] = round(time.monotonic() - t0, 1)

    t1 = time.monotonic()
    lexical = train_lexical(tasks, train_rows, seed)
    timings["lexical_seconds"] = round(time.monotonic() - t1, 1)

    t2 = time.monotonic()
    heldout = data[eval_split]
    judge = Judge.load(result.checkpoint_dir)
    count = _token_counter(judge.tokenizer)
    explains = set(judge.metadata.get("explains") or ())
    window = judge.config.max_len
    explanation_tokens = min(prof.explanation_tokens, window // 2)
    fitted = [
        fit_leaving_room(
            tasks[e.task],
            e,
            prof,
            count,
            window,
            explanation_tokens + 1 if e.task in explains else 0,  # + the verdict's token
        )
        for e in heldout
    ]
    evaluation = evaluate_recipe(
        judge, tasks, heldout, fitted, lexical, prof, seed, explanation_tokens=explanation_tokens
    )
    if data["teacher"] and data["teacher"]["explanations"]:
        judged = {"tasks": [], "n": 0, "generated": 0, "with_explanation": 0}
        judged |= {"names_verdict": 0, "samples": []}
        evaluation["explanations"] = {
            **evaluation.get("explanations", judged),
            "train": {
                "task": TEACHER_COT_TASK,
                "examples": counts.get(TEACHER_COT_TASK, 0),
                "too_long_for_window": too_long,
                "evaluation_block": config.evaluation_block,
                "verdict_weight": config.verdict_weight,
            },
            "unrewritable": data["teacher"]["explanation_unrewritable"],
        }
    timings["eval_seconds"] = round(time.monotonic() - t2, 1)
    timings["total_seconds"] = round(time.monotonic() - started, 1)
    # CPU seconds of this process: on a busy shared machine, wall time overstates the cost.
    timings["cpu_seconds"] = round(time.process_time() - cpu_started, 1)

    report = {
        "recipe": recipe,
        "profile": prof.name,
        "commit": git_commit(),
        "eval_split": eval_split,
        "seed": seed,
        "sources": data["sources"],
        "excluded_sources": {k: v for k, v in EXCLUDED_SOURCES.items() if k != TEACHER_SOURCE}
        if recipe == "teacher"
        else EXCLUDED_SOURCES,
        "split_counts": data["split_counts"],
        "distinct_prompts_per_split": disjoint,
        "splits_disjoint_by_prompt": True,
        "train_rows_per_task": counts,
        "mixture_weights": weights,
        "train_config": config.to_dict(),
        "profile_settings": dataclasses.asdict(prof),
        "train": {
            "steps": result.steps,
            "final_loss": result.final_loss,
            "loss_history": result.loss_history,
        },
        "timings": timings,
        "budget_minutes": prof.budget_minutes,
        **evaluation,
    }
    if recipe == "teacher":
        report["note"] = (
            "Teacher recipe: trained with LLM-judge labels (CC BY-NC 4.0). The held-out "
            f"{' and '.join(TEACHER_TASKS)} items measure agreement with the teacher, not "
            "with humans; pooled_pairwise_human excludes them."
        )
    write_report(_report_for_pictures(report), out / "report")
    (out / "recipe.json").write_text(json.dumps(report, indent=2, sort_keys=True, default=str))
    (out / "model_card.md").write_text(model_card(report))
    log(f"done in {timings['total_seconds']} s: {out}")
    return report


def _token_counter(tokenizer) -> Callable[[str], int]:
    """Tokens of a rendered prompt as `encode_prompt` makes them (BOS included)."""
    bos = 0 if tokenizer.bos_id is None else 1
    return lambda text: bos + len(tokenizer.encode(text))


def _report_for_pictures(report: Mapping[str, Any]) -> dict[str, Any]:
    """write_report's shape: the judge's summary plus this recipe's numbers."""
    summary = dict(report["judge_summary"])
    summary["baselines"] = {
        "random_expected": {"accuracy": report["random_expected_human"]},
    }
    if "bias" in report:
        summary["bias"] = report["bias"]
    summary["recipe"] = {k: v for k, v in report.items() if k != "judge_summary"}
    return summary
