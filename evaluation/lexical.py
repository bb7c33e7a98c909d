"""The lexical baseline: TF-IDF features + logistic regression, one model per task, trained on
the same training split as the judge and judged through `FunctionJudge` (pairwise items in both
orders, averaged), so it is compared with the trained judge on exactly the same footing.

Features (scikit-learn `TfidfVectorizer`, word 1-2-grams, sublinear tf, L2-normalised rows, so
text length is not a feature):
  * pairwise: [tfidf(context) , tfidf(A) - tfidf(B), |tfidf(A) - tfidf(B)|], trained on both
    orders of every pair (the difference flips sign with the order, the rest does not);
  * other tasks with a closed label set: tfidf(the whole rendered context).
Tasks with fewer than two distinct training labels predict their only label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from evaluation.baselines import FunctionJudge
from judging.task_format import (
    RESPONSE_A,
    RESPONSE_B,
    Example,
    Task,
    TaskType,
    render_value,
    swap_pairwise,
)

MAX_FEATURES = 50_000


def _context_text(task: Task, example: Example, skip: tuple[str, ...] = ()) -> str:
    return "\n".join(
        render_value(example.context.get(field, ""))
        for field in task.context_fields
        if field not in skip
    )


class _TaskModel:
    def __init__(self, task: Task, examples: Sequence[Example], seed: int) -> None:
        self.task = task
        self.pairwise = task.type is TaskType.PAIRWISE
        rows = [e for e in examples if e.label in task.labels]
        if self.pairwise:
            rows = rows + [swap_pairwise(e) for e in rows]
        self.labels = sorted({e.label for e in rows})
        self.constant = self.labels[0] if len(self.labels) == 1 else None
        if self.constant is not None or not rows:
            return
        self.vectorizer = TfidfVectorizer(
            ngram_range=(1, 2), sublinear_tf=True, min_df=2, max_features=MAX_FEATURES
        )
        corpus = [_context_text(task, e) for e in rows]
        self.vectorizer.fit(corpus)
        features = self._features(rows)
        self.model = LogisticRegression(C=1.0, max_iter=2000, random_state=seed)
        self.model.fit(features, [e.label for e in rows])

    def _features(self, examples: Sequence[Example]) -> sparse.csr_matrix:
        if not self.pairwise:
            return self.vectorizer.transform([_context_text(self.task, e) for e in examples])
        shared = self.vectorizer.transform(
            [_context_text(self.task, e, (RESPONSE_A, RESPONSE_B)) for e in examples]
        )
        a = self.vectorizer.transform([render_value(e.context[RESPONSE_A]) for e in examples])
        b = self.vectorizer.transform([render_value(e.context[RESPONSE_B]) for e in examples])
        diff = a - b
        return sparse.hstack([shared, diff, abs(diff)]).tocsr()

    def predict(self, example: Example) -> dict[str, float] | str | None:
        if self.constant is not None:
            return self.constant
        if not self.labels:
            return None
        probs = self.model.predict_proba(self._features([example]))[0]
        return {str(label): float(p) for label, p in zip(self.model.classes_, probs, strict=True)}


def train_lexical(
    tasks: Mapping[str, Task], train_examples: Sequence[Example], seed: int = 0
) -> FunctionJudge:
    """A TF-IDF + logistic-regression judge trained per task on `train_examples`."""
    by_task: dict[str, list[Example]] = {}
    for example in train_examples:
        task = tasks.get(example.task)
        if task is not None and task.labels and example.label is not None:
            by_task.setdefault(example.task, []).append(example)
    models = {name: _TaskModel(tasks[name], rows, seed) for name, rows in by_task.items()}

    def rule(task: Task, example: Example):
        model = models.get(task.name)
        return None if model is None else model.predict(example)

    return FunctionJudge(rule, "tfidf-logreg")
