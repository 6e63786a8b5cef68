"""The architectures learn: the encoder-decoder reverses sequences, the MoE decoder follows mode-dependent
rules. Seeded, a few seconds each on one CPU thread (tiny models are faster on one thread than on two)."""

import pytest
import torch
import torch.nn.functional as F

from glossa.models.presets import preset
from glossa.models.transformer import Transformer

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_encoder_decoder_learns_to_reverse_sequences():
    length, vocab, bos = 8, 16, 1  # ids 2..15 are data, 1 starts the decoder
    torch.manual_seed(0)
    model = Transformer(preset("t5-tiny", vocab_size=vocab))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)

    def batch(n: int, generator: torch.Generator | None = None):
        source = torch.randint(2, vocab, (n, length), generator=generator)
        target = source.flip(1)
        decoder_input = torch.cat([torch.full((n, 1), bos), target[:, :-1]], dim=1)
        return source, decoder_input, target

    for _ in range(250):
        source, decoder_input, target = batch(64)
        logits = model(decoder_input, encoder_input_ids=source).logits
        loss = F.cross_entropy(logits.reshape(-1, vocab), target.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    model.eval()
    source, _, target = batch(256, torch.Generator().manual_seed(123))
    with torch.no_grad():  # greedy decoding, each step fed its own previous output
        encoded = model.encode(source).last_hidden_state
        output = torch.full((256, 1), bos)
        for _ in range(length):
            next_token = model(output, encoder_output=encoded).logits[:, -1].argmax(-1, keepdim=True)
            output = torch.cat([output, next_token], dim=1)
    accuracy = (output[:, 1:] == target).float().mean().item()
    assert accuracy >= 0.95


def test_moe_decoder_learns_mode_dependent_rules():
    """The first token picks one of 4 random permutations of 48 symbols; each later token is the chosen
    permutation applied to the one before. The model must read the mode and apply its rule: ≥ 95% accuracy."""
    vocab, symbols, modes, length = 64, 48, 4, 12
    torch.manual_seed(0)
    permutations = torch.stack([torch.randperm(symbols) for _ in range(modes)])
    model = Transformer(preset("moe-tiny"))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)

    def batch(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        mode = torch.randint(0, modes, (n,), generator=generator)
        x = torch.zeros(n, length, dtype=torch.long)
        x[:, 0] = symbols + mode
        x[:, 1] = torch.randint(0, symbols, (n,), generator=generator)
        for t in range(2, length):
            x[:, t] = permutations[mode, x[:, t - 1]]
        return x

    for _ in range(100):
        x = batch(64)
        out = model(x[:, :-1])
        loss = F.cross_entropy(out.logits[:, 1:].reshape(-1, vocab), x[:, 2:].reshape(-1)) + out.aux_loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    model.eval()
    x = batch(512, torch.Generator().manual_seed(5))
    with torch.no_grad():
        out = model(x[:, :-1])
    accuracy = (out.logits[:, 1:].argmax(-1) == x[:, 2:]).float().mean().item()
    assert accuracy >= 0.95
    assert (out.expert_load > 0).all()  # every expert is used
