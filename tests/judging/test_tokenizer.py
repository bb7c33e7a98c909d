from judging.task_format import render_prompt, render_target
from judging.tokenizer import JudgeTokenizer, train_tokenizer


def test_labels_are_single_tokens(demo_tokenizer):
    ids = {demo_tokenizer.label_token_id(label) for label in ("A", "B", "tie")}
    assert len(ids) == 3
    for label in ("A", "B", "tie"):
        assert demo_tokenizer.encode(render_target(label)) == [demo_tokenizer.label_token_id(label)]


def test_extra_labels_become_single_tokens():
    tok = train_tokenizer(
        ["a small corpus with digits 123 and words"] * 5,
        300,
        labels=["very good", "1", "10", "unsure"],
    )
    for label in ("A", "B", "tie", "very good", "1", "10", "unsure"):
        assert len(tok.encode(render_target(label))) == 1, label
    # An added label token must not match inside a longer word.
    assert tok.label_token_id("unsure") not in tok.encode("I am unsurely here")


def test_digits_are_split_and_decoding_round_trips(demo_tokenizer, demo_tasks, demo_examples):
    pieces = [demo_tokenizer.decode([i]) for i in demo_tokenizer.encode("x 1234 y")]
    assert [p for p in pieces if p.strip().isdigit()] == ["1", "2", "3", "4"]
    for example in demo_examples[:6]:
        prompt = render_prompt(demo_tasks[example.task], example)
        assert demo_tokenizer.decode(demo_tokenizer.encode(prompt)) == prompt


def test_instruction_lines_compress(demo_tokenizer, demo_tasks, demo_examples):
    for example in demo_examples[:4]:
        ids = demo_tokenizer.encode(render_prompt(demo_tasks[example.task], example))
        assert len(ids) < 60


def test_save_load(tmp_path, demo_tokenizer):
    demo_tokenizer.save(tmp_path / "tok.json")
    loaded = JudgeTokenizer.load(tmp_path / "tok.json")
    assert loaded == demo_tokenizer
    assert loaded.vocab_size == demo_tokenizer.vocab_size
    assert (loaded.pad_id, loaded.eos_id) == (demo_tokenizer.pad_id, demo_tokenizer.eos_id)
    assert loaded.encode("choice: A") == demo_tokenizer.encode("choice: A")
