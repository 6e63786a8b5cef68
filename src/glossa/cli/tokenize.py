"""`glossa tokenize` and `glossa tokenizer train|stats|compare`: tokenizers at the command line.

    glossa tokenize "Hello world 123"                      the text coloured token by token, then a table
    glossa tokenize --file notes.txt --tokenizer minilm --ids-only
    glossa tokenize --chat "Hi" [--system "Be brief."]      the prompt an instruct model really sees
    glossa tokenizer train --algo bpe --vocab-size 2000 --special "<|endoftext|>" corpus.txt
    glossa tokenizer stats --tokenizer smollm2 a.txt b.txt
    glossa tokenizer compare smollm2 minilm --file notes.txt

A tokenizer is anything `load_tokenizer` accepts: a registered name (smollm2, minilm), a .gguf file, an HF
folder, a tokenizer.json, a vocab.txt, or a file written by `glossa tokenizer train`.

Token boundaries need not fall between characters (a byte-level token may hold half of "é"), so the coloured
view decodes the tokens' bytes incrementally and gives each character to the token that completes it.
`--chat` renders the text as a user message with the model's chat template (SmolLM2 adds its default system
prompt unless `--system` gives one) and reads the whole result with special tokens allowed, as servers do
with a templated prompt: special-token text typed into the message becomes special too, which is why a real
server must not trust it (prompt injection).
Training corpora are read as strict UTF-8: a file that is not fails with its name and the byte offset of the
first bad sequence, unless `--errors replace` asks to go on with U+FFFD in its place.
"""

from __future__ import annotations

import codecs
import json
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from glossa.atomic import atomic_write_text
from glossa.cli.console import console, err_console
from glossa.errors import GlossaError
from glossa.text.codepoints import one_line, printable
from glossa.text.text_input import read_bytes, text_from_argument
from glossa.tokenizers.base import Tokenizer
from glossa.tokenizers.loading import load_tokenizer
from glossa.tokenizers.stats import TokenizerStats, compare_tokenizers, stats_of_ids

DEFAULT_TOKENIZER = "smollm2"
DEFAULT_LIMIT = 200
MAX_CORPUS_BYTES = 1 << 30
TOKEN_BACKGROUNDS = ("on grey23", "on dark_blue", "on dark_green", "on dark_magenta")
COMPARE_SAMPLE = (
    "The quick brown fox jumps over the lazy dog, 1234567 times.\n"
    "def tokenize(text: str) -> list[int]:\n    return [ord(c) for c in text]\n"
    "Voilà une phrase en français. Ein Satz auf Deutsch. 這是中文。日本語の文です。\n"
)


class Algorithm(StrEnum):
    bpe = "bpe"
    wordpiece = "wordpiece"
    unigram = "unigram"


class Pretokenizer(StrEnum):
    gpt2 = "gpt2"
    llama3 = "llama3"
    smollm = "smollm"


class DecodeErrors(StrEnum):
    strict = "strict"
    replace = "replace"


TokenizerOption = Annotated[
    str,
    typer.Option("--tokenizer", "-t", help="Registered name (smollm2, minilm) or a tokenizer file/folder."),
]


def register(app: typer.Typer) -> None:
    """Add `tokenize` and the `tokenizer` group to the glossa app."""
    app.command("tokenize")(tokenize)
    group = typer.Typer(help="Train, measure and compare tokenizers.", no_args_is_help=True)
    group.command("train")(train)
    group.command("stats")(stats)
    group.command("compare")(compare)
    app.add_typer(group, name="tokenizer")


# -- glossa tokenize -----------------------------------------------------------------------------------------


def tokenize(
    text: Annotated[str | None, typer.Argument(help="The text to tokenize.", show_default=False)] = None,
    file: Annotated[
        str | None, typer.Option("--file", "-f", help="Read the text from a file ('-': stdin).")
    ] = None,
    tokenizer: TokenizerOption = DEFAULT_TOKENIZER,
    ids_only: Annotated[
        bool, typer.Option("--ids-only", help="Print only the ids, space-separated.")
    ] = False,
    allow_special: Annotated[
        bool,
        typer.Option("--allow-special", help="Read special-token text (<|im_start|>) as special tokens."),
    ] = False,
    chat: Annotated[
        bool, typer.Option("--chat", help="Send the text as a user message through the chat template.")
    ] = False,
    system: Annotated[
        str | None,
        typer.Option("--system", help="With --chat: the system prompt (else the model's default)."),
    ] = None,
    limit: Annotated[int, typer.Option(help="Rows of the token table (0 for none).")] = DEFAULT_LIMIT,
) -> None:
    """Show how a tokenizer cuts a text: the text coloured by token, then each token's id and bytes."""
    if system is not None and not chat:
        raise GlossaError("--system needs --chat (a system prompt is part of a chat)")
    if text is not None and file is not None:
        raise GlossaError("give either a TEXT or --file, not both")
    if text is None and file is None:
        raise GlossaError('nothing to tokenize: give a TEXT (glossa tokenize "Hello world") or --file PATH')
    if limit < 0:
        raise GlossaError(f"--limit must be 0 or more, not {limit}")
    source = read_corpus_file(file, DecodeErrors.replace) if file is not None else argument_text(text or "")
    model = load_tokenizer(tokenizer)
    if chat:
        messages = [{"role": "system", "content": system}] if system is not None else []
        source = model.apply_chat_template([*messages, {"role": "user", "content": source}])
        allow_special = True  # the template's role markers are special tokens
    ids = model.encode(source, allowed_special="all" if allow_special else "none")
    if ids_only:
        typer.echo(" ".join(map(str, ids)))
        return
    console.print(coloured_tokens(model, ids))
    if limit:
        console.print(token_table(model, ids, limit))
    n_bytes = sum(len(model.token_bytes(token_id)) for token_id in ids)
    per_token = f"{n_bytes / len(ids):.2f}" if ids else "-"
    console.print(f"{len(ids):,} tokens, {n_bytes:,} bytes, {per_token} bytes per token ({model.name})")


def argument_text(argument: str) -> str:
    source = text_from_argument(argument)
    if source.invalid:
        err_console.print(f"warning: {len(source.invalid)} invalid UTF-8 sequence(s) replaced by U+FFFD")
    return source.text


def token_pieces(tokenizer: Tokenizer, ids: list[int]) -> list[str]:
    """The text each token completes: its bytes decoded incrementally, so a character split across tokens
    belongs to the token holding its last byte. Special tokens show as their own text."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pieces = []
    for token_id in ids:
        raw = tokenizer.token_bytes(token_id)
        special = not raw and token_id in tokenizer.special_tokens.values()
        pieces.append(tokenizer.id_to_token(token_id) if special else decoder.decode(raw))
    if pieces:
        pieces[-1] += decoder.decode(b"", final=True)
    return pieces


def coloured_tokens(tokenizer: Tokenizer, ids: list[int]) -> Text:
    shown = Text()
    for index, piece in enumerate(token_pieces(tokenizer, ids)):
        visible = printable(piece.replace("\n", "↵\n").replace("\t", "→\t"))
        shown.append(visible, style=TOKEN_BACKGROUNDS[index % len(TOKEN_BACKGROUNDS)])
    return shown


def token_table(tokenizer: Tokenizer, ids: list[int], limit: int) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("id", justify="right", no_wrap=True)
    table.add_column("token", overflow="fold")
    table.add_column("bytes", overflow="fold")
    table.add_column("n", justify="right", no_wrap=True)
    for index, token_id in enumerate(ids[:limit]):
        raw = tokenizer.token_bytes(token_id)
        table.add_row(
            str(index),
            str(token_id),
            Text(one_line(tokenizer.id_to_token(token_id))),
            raw.hex(" ") if raw else Text("special", style="dim"),
            str(len(raw)),
        )
    if len(ids) > limit:
        table.caption = f"{len(ids) - limit:,} more tokens not shown; pass --limit N to see more"
    return table


# -- glossa tokenizer train ----------------------------------------------------------------------------------


def train(
    corpus: Annotated[list[Path], typer.Argument(help="UTF-8 text files to learn from.", show_default=False)],
    algo: Annotated[Algorithm, typer.Option("--algo", help="The tokenizer algorithm.")] = Algorithm.bpe,
    vocab_size: Annotated[
        int, typer.Option("--vocab-size", help="Ids in the vocabulary, specials included.")
    ] = 4096,
    min_frequency: Annotated[
        int, typer.Option("--min-frequency", help="BPE: stop when the best pair occurs fewer times.")
    ] = 2,
    special: Annotated[
        list[str] | None, typer.Option("--special", help="A special token (repeat for more); ids 0, 1, …")
    ] = None,
    pretokenizer: Annotated[
        Pretokenizer, typer.Option("--pretokenizer", help="BPE: the regex that splits text before merging.")
    ] = Pretokenizer.gpt2,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Where to write the tokenizer file.")
    ] = None,
    errors: Annotated[
        DecodeErrors, typer.Option("--errors", help="Non-UTF-8 input: fail (strict) or use U+FFFD (replace).")
    ] = DecodeErrors.strict,
) -> None:
    """Train a tokenizer on text files and write it; `glossa tokenize --tokenizer FILE` then uses it."""
    if vocab_size < 1:
        raise GlossaError(f"--vocab-size must be positive, not {vocab_size}")
    if min_frequency < 1:
        raise GlossaError(f"--min-frequency must be at least 1, not {min_frequency}")
    texts = [read_corpus_file(str(path), errors) for path in corpus]
    specials = list(special or [])
    out = out or Path(f"{algo.value}-{vocab_size}.json")
    started = time.perf_counter()
    tokenizer = train_tokenizer(algo, texts, vocab_size, min_frequency, specials, pretokenizer.value)
    seconds = time.perf_counter() - started
    save_tokenizer(tokenizer, algo, out)
    sample = "".join(texts)[:100_000]
    sample_stats = stats_of_ids(tokenizer, sample, tokenizer.encode(sample))
    summary = Table(title=f"Trained {algo.value} tokenizer", title_justify="left", show_header=False)
    summary.add_column("what")
    summary.add_column("value", overflow="fold")
    summary.add_row("written to", str(out))
    summary.add_row("vocabulary", f"{tokenizer.vocab_size:,} ids (asked for {vocab_size:,})")
    summary.add_row("special tokens", ", ".join(tokenizer.special_tokens) or "none")
    summary.add_row("corpus", f"{len(corpus)} file(s), {sum(len(t) for t in texts):,} characters")
    summary.add_row("training time", f"{seconds:.1f} s")
    summary.add_row("bytes per token", f"{sample_stats.bytes_per_token:.2f} (first 100,000 characters)")
    console.print(summary)


def train_tokenizer(
    algo: Algorithm,
    texts: list[str],
    vocab_size: int,
    min_frequency: int,
    specials: list[str],
    pretokenizer: str,
) -> Tokenizer:
    if algo == Algorithm.bpe:
        from glossa.tokenizers.bpe_train import train_bpe

        return train_bpe(
            texts, vocab_size, pretokenizer=pretokenizer, min_frequency=min_frequency, special_tokens=specials
        )
    if algo == Algorithm.wordpiece:
        from glossa.tokenizers.wordpiece import BERT_SPECIAL_TOKENS
        from glossa.tokenizers.wordpiece_train import train_wordpiece

        wordpiece_specials = [*BERT_SPECIAL_TOKENS, *(s for s in specials if s not in BERT_SPECIAL_TOKENS)]
        return train_wordpiece(texts, vocab_size, special_tokens=wordpiece_specials, progress=True)
    from glossa.tokenizers.unigram_train import DEFAULT_SPECIAL_TOKENS, train_unigram

    unigram_specials = [*DEFAULT_SPECIAL_TOKENS, *(s for s in specials if s not in DEFAULT_SPECIAL_TOKENS)]
    return train_unigram(texts, vocab_size, special_tokens=unigram_specials, progress=True)


def save_tokenizer(tokenizer: Tokenizer, algo: Algorithm, out: Path) -> None:
    if algo == Algorithm.bpe:
        from glossa.tokenizers.bpe_files import save_bpe

        save_bpe(tokenizer, out)
    elif algo == Algorithm.wordpiece:
        atomic_write_text(out, json.dumps(tokenizer.to_tokenizer_config(), ensure_ascii=False, indent=2))
    else:
        tokenizer.save(out)


def read_corpus_file(path: str, errors: DecodeErrors) -> str:
    """A file's text. Not UTF-8: a GlossaError naming the first bad byte, or (replace) U+FFFD, warned."""
    data = read_bytes(path, MAX_CORPUS_BYTES)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        where = f"{one_line(path)} is not UTF-8: {error.reason} at byte {error.start}"
        if errors == DecodeErrors.strict:
            raise GlossaError(f"{where}; fix the file or pass --errors replace") from None
        bad_bytes = sum(1 for char in data.decode("utf-8", "surrogateescape") if "\udc80" <= char <= "\udcff")
        err_console.print(
            f"warning: {where}; {bad_bytes:,} invalid byte(s) replaced by U+FFFD", highlight=False
        )
        return data.decode("utf-8", errors="replace")


# -- glossa tokenizer stats / compare ------------------------------------------------------------------------


def stats(
    files: Annotated[
        list[str], typer.Argument(help="Text files to measure ('-': stdin).", show_default=False)
    ],
    tokenizer: TokenizerOption = DEFAULT_TOKENIZER,
    errors: Annotated[DecodeErrors, typer.Option("--errors", help="Non-UTF-8 input: fail or use U+FFFD.")] = (
        DecodeErrors.strict
    ),
) -> None:
    """Compression, fertility, vocabulary use and unknown rate of a tokenizer on text files."""
    model = load_tokenizer(tokenizer)
    rows = []
    for path in files:
        text = read_corpus_file(path, errors)
        rows.append((one_line(path), stats_of_ids(model, text, model.encode(text))))
    if len(rows) > 1:
        total = rows[0][1]
        for _, row in rows[1:]:
            total = total + row
        rows.append(("all files", total))
    table = Table(
        title=f"Tokenizer {model.name} ({model.vocab_size:,} ids)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        caption="tok/word: fertility; vocab use: distinct ids / vocabulary size; unk: unknown tokens",
        caption_justify="left",
    )
    table.add_column("file", overflow="fold", min_width=12)
    for column in ("bytes", "tokens", "bytes\n/tok", "chars\n/tok", "tok\n/word", "vocab\nuse", "unk\nrate"):
        table.add_column(column, justify="right", no_wrap=True)
    for name, row in rows:
        table.add_row(
            name,
            f"{row.bytes:,}",
            f"{row.tokens:,}",
            f"{row.bytes_per_token:.2f}",
            f"{row.characters_per_token:.2f}",
            f"{row.fertility:.2f}",
            f"{row.vocabulary_use:.2%}",
            f"{row.unknown_rate:.2%}",
        )
    console.print(table)


def compare(
    a: Annotated[str, typer.Argument(help="First tokenizer (name or path).", show_default=False)],
    b: Annotated[str, typer.Argument(help="Second tokenizer (name or path).", show_default=False)],
    file: Annotated[
        str | None, typer.Option("--file", "-f", help="Text to compare on (default: a sample).")
    ] = None,
    errors: Annotated[DecodeErrors, typer.Option("--errors", help="Non-UTF-8 input: fail or use U+FFFD.")] = (
        DecodeErrors.strict
    ),
) -> None:
    """Two tokenizers on the same text, side by side."""
    text = read_corpus_file(file, errors) if file is not None else COMPARE_SAMPLE
    comparison = compare_tokenizers(load_tokenizer(a), load_tokenizer(b), text)
    first, second = comparison.a, comparison.b
    table = Table(title=f"{first.name} vs {second.name} on {one_line(file) if file else 'the sample text'}")
    table.add_column("measure")
    table.add_column(f"A: {first.name}", justify="right")
    table.add_column(f"B: {second.name}", justify="right")
    table.add_column("B / A", justify="right")
    for measure, value_a, value_b, shown in comparison_rows(first, second):
        ratio = f"{value_b / value_a:.2f}" if value_a else "-"
        table.add_row(measure, shown(value_a), shown(value_b), ratio)
    console.print(table)


def comparison_rows(a: TokenizerStats, b: TokenizerStats):
    def integer(value: float) -> str:
        return f"{value:,.0f}"

    def decimal(value: float) -> str:
        return f"{value:.2f}"

    def percent(value: float) -> str:
        return f"{value:.2%}"

    return [
        ("vocabulary size", a.vocab_size, b.vocab_size, integer),
        ("tokens", a.tokens, b.tokens, integer),
        ("bytes per token", a.bytes_per_token, b.bytes_per_token, decimal),
        ("characters per token", a.characters_per_token, b.characters_per_token, decimal),
        ("fertility (tokens per word)", a.fertility, b.fertility, decimal),
        ("distinct ids used", a.distinct_ids, b.distinct_ids, integer),
        ("vocabulary use", a.vocabulary_use, b.vocabulary_use, percent),
        ("unknown rate", a.unknown_rate, b.unknown_rate, percent),
    ]
