import jax.numpy as jnp
import numpy as np
from flax import nnx

from judging.checkpoint import LoadedModel
from judging.generate import greedy_generate
from judging.inference import Judge, bucket_length
from judging.task_format import Example, Task, TaskType


@nnx.jit
def _last_logits(model, tokens, mask, last):
    return model.logits_at(tokens, last, mask)


def _greedy_without_cache(model, prompt, n, width=32):
    """Full forward passes (no cache) over a fixed padded width: one compile."""
    ids = list(prompt)
    for _ in range(n):
        tokens = np.zeros((1, width), np.int32)
        tokens[0, : len(ids)] = ids
        mask = np.arange(width)[None] < len(ids)
        logits = _last_logits(model, tokens, mask, jnp.asarray([len(ids) - 1]))
        ids.append(int(jnp.argmax(logits[0])))
    return ids[len(prompt) :]


def test_cached_generation_matches_full_recompute(tiny_model):
    model, config = tiny_model
    rng = np.random.default_rng(0)
    prompts = [rng.integers(3, config.vocab_size, size=n).tolist() for n in (5, 11, 17)]
    got = greedy_generate(
        model,
        prompts,
        6,
        eos_id=None,
        pad_id=0,
        bucket=lambda n: bucket_length(n, 64),
        batch_size=4,
    )
    for prompt, tokens in zip(prompts, got, strict=True):
        assert tokens == _greedy_without_cache(model, prompt, 6)


def test_generation_stops_at_eos(tiny_model):
    model, config = tiny_model
    prompt = [5, 6, 7]
    free = _greedy_without_cache(model, prompt, 4)
    got = greedy_generate(
        model, [prompt], 4, eos_id=free[1], pad_id=0, bucket=lambda n: bucket_length(n, 64)
    )
    assert got == [free[: free.index(free[1])]]


def test_judge_generate_open_ended(tiny_model, demo_tokenizer):
    model, config = tiny_model
    judge = Judge(LoadedModel(model, config, demo_tokenizer, {}))
    task = Task("essay", TaskType.OPEN_ENDED, "Essay", "Critique it.", ("text",), ("critique",))
    examples = [Example("essay", {"text": "hello"}, id="e1"), Example("nope", {}, id="x")]
    generation, unknown = judge.generate({"essay": task}, examples, max_new_tokens=3)
    assert generation.example_id == "e1" and len(generation.token_ids) <= 3
    assert generation.text == demo_tokenizer.decode(generation.token_ids)
    assert not unknown.valid and "unknown task" in unknown.error


def test_sampling_is_seeded_and_cold_sampling_is_greedy(tiny_model):
    from judging.generate import sample_generate

    model, config = tiny_model
    rng = np.random.default_rng(1)
    prompts = [rng.integers(3, config.vocab_size, size=n).tolist() for n in (4, 9, 13)]
    common = dict(eos_id=None, pad_id=0, bucket=lambda n: bucket_length(n, 64), batch_size=4)
    greedy = greedy_generate(model, prompts, 8, **common)
    assert sample_generate(model, prompts, 8, temperature=1e-4, seed=3, **common) == greedy
    hot = sample_generate(model, prompts, 8, temperature=5.0, seed=3, **common)
    assert hot == sample_generate(model, prompts, 8, temperature=5.0, seed=3, **common)
    assert hot != sample_generate(model, prompts, 8, temperature=5.0, seed=4, **common)
    assert hot != greedy and all(len(row) == 8 for row in hot)
