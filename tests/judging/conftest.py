import pytest
from flax import nnx

from judging.demo_tasks import DEMO_TASKS, generate_demo_examples
from judging.model import Decoder, ModelConfig
from judging.task_format import render_example
from judging.tokenizer import format_constant_lines, train_tokenizer


@pytest.fixture(scope="session")
def demo_tasks():
    return {task.name: task for task in DEMO_TASKS}


@pytest.fixture(scope="session")
def demo_examples():
    return generate_demo_examples(40, seed=3)


@pytest.fixture(scope="session")
def demo_tokenizer(demo_tasks, demo_examples):
    texts = [render_example(demo_tasks[e.task], e) for e in demo_examples]
    return train_tokenizer(texts, 512, constant_lines=format_constant_lines(DEMO_TASKS))


@pytest.fixture(scope="session")
def tiny_model(demo_tokenizer):
    config = ModelConfig.named(
        "tiny",
        vocab_size=demo_tokenizer.vocab_size,
        d_model=32,
        n_layers=1,
        n_heads=2,
        n_kv_heads=1,
        d_ff=64,
        max_len=128,
    )
    return Decoder(config, rngs=nnx.Rngs(0)), config
