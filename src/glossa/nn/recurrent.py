"""Recurrent networks before transformers: the RNN, LSTM and GRU cells written out, and a language model.

A recurrent network reads a sequence one step at a time and carries everything it knows in a fixed-size hidden
state; the same weights are applied at every step (parameter sharing across time), so the model is small and
generation costs O(1) memory per token, but step t cannot start before step t − 1 ends, and the gradient
reaching an early step is a product of one Jacobian per step (backpropagation through time: autograd walks
the unrolled graph), which vanishes or explodes over long spans. Gates are the LSTM's and GRU's answer.

The cells, with torch's weight layout and gate order (so `torch.nn.RNN/LSTM/GRU` weights load directly):

    RNN   h' = tanh(W_ih x + b_ih + W_hh h + b_hh)                       (or relu)
    LSTM  gates stacked [i, f, g, o] in W_ih (4H × I) and W_hh (4H × H):
          i = σ(W_ii x + b_ii + W_hi h + b_hi)     input gate
          f = σ(W_if x + b_if + W_hf h + b_hf)     forget gate
          g = tanh(W_ig x + b_ig + W_hg h + b_hg)  candidate cell
          o = σ(W_io x + b_io + W_ho h + b_ho)     output gate
          c' = f ⊙ c + i ⊙ g        (the additive path that lets gradients survive many steps)
          h' = o ⊙ tanh(c')
    GRU   gates stacked [r, z, n] in W_ih (3H × I) and W_hh (3H × H):
          r = σ(W_ir x + b_ir + W_hr h + b_hr)     reset gate
          z = σ(W_iz x + b_iz + W_hz h + b_hz)     update gate
          n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
          h' = (1 − z) ⊙ n + z ⊙ h  (three weight blocks to the LSTM's four; no separate cell state)

Run over a sequence, each layer first projects every input step at once (one big matmul, as cuDNN does), then
loops over time for the recurrent half only; layer l + 1 reads layer l's whole output sequence. Sequences are
batch-first, (batch, time, features); states are (layers, batch, hidden) like torch's, a pair (h, c) for LSTM.

    >>> lm = RecurrentLM(vocab_size=65, d_model=128, n_layers=2, cell="lstm", tie_embeddings=True)
    >>> logits, state = lm(ids)          # (batch, time, 65); carry `state` into the next chunk
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from glossa.errors import GlossaError

State = Tensor | tuple[Tensor, Tensor]


class InvertedDropout(nn.Module):
    """Dropout as it is trained: each activation is zeroed with probability p and the survivors are scaled by
    1 / (1 − p), so the expected value is unchanged and evaluation (`model.eval()`) is the identity."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise GlossaError(f"dropout probability must be in [0, 1), not {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand_like(x) >= self.p
        return x * keep / (1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class _Cell(nn.Module):
    """Weights `weight_ih` (G·H × I), `weight_hh` (G·H × H), `bias_ih`, `bias_hh` (G·H) for G gate blocks,
    initialised like torch's: uniform(−1/√H, 1/√H)."""

    n_gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        if input_size < 1 or hidden_size < 1:
            raise GlossaError(f"input and hidden sizes must be positive, not {input_size} and {hidden_size}")
        self.input_size, self.hidden_size = input_size, hidden_size
        rows = self.n_gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size))
        self.weight_hh = nn.Parameter(torch.empty(rows, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(rows)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(rows)) if bias else None
        bound = 1.0 / math.sqrt(hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def project_input(self, x: Tensor) -> Tensor:
        """W_ih x + b_ih + b_hh, for any number of steps at once (both biases are folded in here, so a step
        is a single addmm; GRU keeps b_hh on the hidden side, where its reset gate needs it)."""
        if self.bias_ih is None:
            return F.linear(x, self.weight_ih)
        return F.linear(x, self.weight_ih, self.bias_ih + self.bias_hh)

    def recurrent_sum(self, projected_x: Tensor, h: Tensor) -> Tensor:
        """projected_x + W_hh h, in one fused op."""
        return torch.addmm(projected_x, h, self.weight_hh.t())

    def initial_state(self, batch: int, like: Tensor) -> State:
        return like.new_zeros(batch, self.hidden_size)

    def step(self, projected_x: Tensor, state: State) -> tuple[Tensor, State]:
        """One time step from the already projected input: returns (output h', new state)."""
        raise NotImplementedError

    def forward(self, x: Tensor, state: State | None = None) -> State:
        """One step on raw input x (batch, input_size), as `torch.nn.RNNCell/LSTMCell/GRUCell` do."""
        if state is None:
            state = self.initial_state(x.shape[0], x)
        return self.step(self.project_input(x), state)[1]

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias_ih is not None}"


class RNNCell(_Cell):
    """Elman RNN: h' = act(W_ih x + b_ih + W_hh h + b_hh), act = tanh (default) or relu."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh"
    ) -> None:
        super().__init__(input_size, hidden_size, bias)
        if nonlinearity not in ("tanh", "relu"):
            raise GlossaError(f"RNN nonlinearity must be 'tanh' or 'relu', not {nonlinearity!r}")
        self.nonlinearity = nonlinearity

    def step(self, projected_x: Tensor, state: State) -> tuple[Tensor, State]:
        pre = self.recurrent_sum(projected_x, state)
        h = torch.tanh(pre) if self.nonlinearity == "tanh" else torch.relu(pre)
        return h, h


class LSTMCell(_Cell):
    """Long short-term memory; state (h, c); gate order [i, f, g, o] (see the module docstring)."""

    n_gates = 4

    def initial_state(self, batch: int, like: Tensor) -> State:
        zeros = like.new_zeros(batch, self.hidden_size)
        return zeros, zeros

    def step(self, projected_x: Tensor, state: State) -> tuple[Tensor, State]:
        h, c = state
        size = self.hidden_size
        gates = self.recurrent_sum(projected_x, h)
        squashed = torch.sigmoid(gates)  # i, f and o; the g block is recomputed with tanh below
        i, f, o = squashed[:, :size], squashed[:, size : 2 * size], squashed[:, 3 * size :]
        g = torch.tanh(gates[:, 2 * size : 3 * size])
        c = torch.addcmul(f * c, i, g)
        h = o * torch.tanh(c)
        return h, (h, c)


class GRUCell(_Cell):
    """Gated recurrent unit; gate order [r, z, n] (see the module docstring)."""

    n_gates = 3

    def project_input(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight_ih, self.bias_ih)

    def step(self, projected_x: Tensor, state: State) -> tuple[Tensor, State]:
        size = self.hidden_size
        hidden = F.linear(state, self.weight_hh, self.bias_hh)
        rz = torch.sigmoid(projected_x[:, : 2 * size] + hidden[:, : 2 * size])
        r, z = rz[:, :size], rz[:, size:]
        n = torch.tanh(torch.addcmul(projected_x[:, 2 * size :], r, hidden[:, 2 * size :]))
        h = torch.lerp(n, state, z)  # (1 − z) ⊙ n + z ⊙ h
        return h, h


CELLS: dict[str, type[_Cell]] = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}


class Recurrent(nn.Module):
    """`num_layers` stacked cells of one kind run over a batch-first sequence, with dropout between layers
    (not after the last), as `torch.nn.RNN/LSTM/GRU(batch_first=True)`."""

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        *,
        bias: bool = True,
        dropout: float = 0.0,
        nonlinearity: str = "tanh",
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise GlossaError(f"unknown recurrent cell {cell!r}: use one of {', '.join(CELLS)}")
        if num_layers < 1:
            raise GlossaError(f"a recurrent network needs at least one layer, not {num_layers}")
        self.cell, self.hidden_size, self.num_layers = cell, hidden_size, num_layers
        extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        self.layers = nn.ModuleList(
            CELLS[cell](input_size if layer == 0 else hidden_size, hidden_size, bias, **extra)
            for layer in range(num_layers)
        )
        self.dropout = InvertedDropout(dropout)

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """x (batch, time, input_size) → outputs (batch, time, hidden), final state (layers, batch, hidden)"""
        if x.dim() != 3:
            raise GlossaError(f"expected a (batch, time, features) sequence, got shape {tuple(x.shape)}")
        layer_states = self._split_state(state, x)
        finals = []
        for index, (layer, layer_state) in enumerate(zip(self.layers, layer_states, strict=True)):
            if index > 0:
                x = self.dropout(x)
            projected = layer.project_input(x)  # every time step in one matmul
            outputs = []
            for t in range(x.shape[1]):
                h, layer_state = layer.step(projected[:, t], layer_state)
                outputs.append(h)
            x = torch.stack(outputs, dim=1) if outputs else x.new_zeros(x.shape[0], 0, self.hidden_size)
            finals.append(layer_state)
        if self.cell == "lstm":
            return x, (torch.stack([h for h, _ in finals]), torch.stack([c for _, c in finals]))
        return x, torch.stack(finals)

    def _split_state(self, state: State | None, x: Tensor) -> list[State]:
        if state is None:
            return [layer.initial_state(x.shape[0], x) for layer in self.layers]
        if self.cell == "lstm":
            h, c = state
            return list(zip(h.unbind(0), c.unbind(0), strict=True))
        return list(state.unbind(0))

    def load_torch(self, module: nn.RNNBase) -> Recurrent:
        """Copy the weights of a same-shaped `torch.nn.RNN/LSTM/GRU` (`weight_ih_l0`, …) into this one."""
        expected = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[self.cell]
        if not isinstance(module, expected):
            raise GlossaError(f"cannot load a {type(module).__name__} into a {self.cell} network")
        if module.bidirectional or getattr(module, "proj_size", 0):
            raise GlossaError("bidirectional and projected torch recurrent layers are not supported")
        if module.num_layers != self.num_layers or module.hidden_size != self.hidden_size:
            raise GlossaError(
                f"layer count or hidden size differ: torch has {module.num_layers} × {module.hidden_size}, "
                f"this network {self.num_layers} × {self.hidden_size}"
            )
        if self.cell == "rnn" and module.nonlinearity != self.layers[0].nonlinearity:
            raise GlossaError(
                f"the torch RNN uses {module.nonlinearity}, this one {self.layers[0].nonlinearity}"
            )
        source = module.state_dict()
        with torch.no_grad():
            for index, layer in enumerate(self.layers):
                for name, parameter in layer.named_parameters():
                    parameter.copy_(source[f"{name}_l{index}"])
        return self

    @classmethod
    def from_torch(cls, module: nn.RNNBase) -> Recurrent:
        """A network of ours with the architecture and weights of `module`."""
        cell = {nn.LSTM: "lstm", nn.GRU: "gru", nn.RNN: "rnn"}.get(type(module))
        if cell is None:
            raise GlossaError(f"expected a torch.nn.RNN, LSTM or GRU, not {type(module).__name__}")
        extra = {"nonlinearity": module.nonlinearity} if cell == "rnn" else {}
        ours = cls(
            cell,
            module.input_size,
            module.hidden_size,
            module.num_layers,
            bias=module.bias,
            dropout=module.dropout,
            **extra,
        )
        reference = next(module.parameters())
        return ours.to(device=reference.device, dtype=reference.dtype).load_torch(module)


class RecurrentLM(nn.Module):
    """A recurrent language model: embedding → `n_layers` recurrent layers (width d_model) → output head.

    With `tie_embeddings` the head's weight IS the embedding matrix (one Parameter, used twice: parameter
    sharing, as GPT-2 does), saving vocab_size × d_model parameters. Dropout is applied to the embeddings,
    between recurrent layers and before the head (Zaremba et al., 2014)."""

    def __init__(
        self,
        vocab_size: int,
        d_model: int,
        n_layers: int,
        cell: str = "lstm",
        tie_embeddings: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if vocab_size < 1 or d_model < 1:
            raise GlossaError(f"vocab_size and d_model must be positive, not {vocab_size} and {d_model}")
        self.vocab_size, self.d_model = vocab_size, d_model
        self.embedding = nn.Embedding(vocab_size, d_model)
        nn.init.normal_(self.embedding.weight, std=0.1)
        self.dropout = InvertedDropout(dropout)
        self.rnn = Recurrent(cell, d_model, d_model, n_layers, dropout=dropout)
        self.head = nn.Linear(d_model, vocab_size)
        if tie_embeddings:
            self.head.weight = self.embedding.weight

    @property
    def tied(self) -> bool:
        return self.head.weight is self.embedding.weight

    def forward(self, ids: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """ids (batch, time) → logits (batch, time, vocab) and the state to continue from."""
        hidden, state = self.rnn(self.dropout(self.embedding(ids)), state)
        return self.head(self.dropout(hidden)), state

    def loss(self, ids: Tensor) -> Tensor:
        """Mean next-token cross-entropy (nats) over a batch of sequences."""
        logits, _ = self(ids[:, :-1])
        return F.cross_entropy(logits.reshape(-1, self.vocab_size), ids[:, 1:].reshape(-1))

    @torch.no_grad()
    def generate(
        self,
        prompt: list[int],
        max_new_tokens: int,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> list[int]:
        """Continue `prompt` token by token, feeding only the newest token and the carried state
        (temperature 0 = greedy)."""
        if not prompt:
            raise GlossaError("generation needs a prompt of at least one token")
        was_training = self.training
        self.eval()
        ids = list(prompt)
        logits, state = self(torch.tensor([ids]))
        for _ in range(max_new_tokens):
            last = logits[0, -1]
            if temperature <= 0:
                token = int(last.argmax())
            else:
                probs = (last / temperature).softmax(-1)
                token = int(torch.multinomial(probs, 1, generator=generator))
            ids.append(token)
            logits, state = self(torch.tensor([[token]]), state)
        self.train(was_training)
        return ids
