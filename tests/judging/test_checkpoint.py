import jax.numpy as jnp
import numpy as np
import pytest

from judging.checkpoint import is_checkpoint, load_checkpoint, save_checkpoint


def test_round_trip_gives_identical_logits(tmp_path, tiny_model, demo_tokenizer):
    model, config = tiny_model
    directory = tmp_path / "ckpt"
    save_checkpoint(directory, model, config, demo_tokenizer, {"steps": 3, "note": "x"})
    loaded = load_checkpoint(directory)
    assert loaded.config == config
    assert loaded.metadata == {"steps": 3, "note": "x"}
    assert loaded.tokenizer == demo_tokenizer
    tokens = jnp.array([demo_tokenizer.encode("question: What is 2 + 3?")])
    np.testing.assert_array_equal(np.asarray(model(tokens)), np.asarray(loaded.model(tokens)))


def test_overwrite_is_atomic_and_leaves_no_temp_dirs(tmp_path, tiny_model, demo_tokenizer):
    model, config = tiny_model
    directory = tmp_path / "ckpt"
    save_checkpoint(directory, model, config, demo_tokenizer, {"version": 1})
    save_checkpoint(directory, model, config, demo_tokenizer, {"version": 2})
    assert load_checkpoint(directory).metadata == {"version": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_failed_save_leaves_nothing(tmp_path, tiny_model, demo_tokenizer):
    model, config = tiny_model
    directory = tmp_path / "ckpt"
    with pytest.raises(TypeError):
        save_checkpoint(directory, model, config, demo_tokenizer, {"bad": object()} | {1j: 1})
    assert not directory.exists() and list(tmp_path.iterdir()) == []
    assert not is_checkpoint(directory)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(directory)
