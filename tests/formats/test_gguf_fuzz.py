"""Fuzzing our GGUF reader with the real SmolLM2 file: any damage ends in a parse or a GlossaError.

Hypothesis mutates the file's header, metadata and tensor-info region (its first 1.8 MB; the 96 MB of tensor
data behind it are left as a sparse, zero-filled extension, so each case costs one small write): random byte
flips, huge values written into the u64 length/count/dim/offset fields and the u32 type fields, truncations
anywhere, and inserted bytes that shift everything after them. Each case is parsed by `read_gguf` under an
address-space limit of 1 GiB above the process's current size, so an attempt to allocate from a bogus length
fails the test as a MemoryError instead of passing unnoticed; on success, a few small tensors are also
dequantized, which may only fail with a GlossaError too.
"""

from __future__ import annotations

import contextlib
import os
import resource
import struct
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glossa.artifacts import smollm2_gguf
from glossa.errors import GlossaError
from glossa.formats.gguf import read_gguf
from glossa.formats.gguf_quants import dequantize

HUGE_VALUES = [
    2**64 - 1,
    2**63,
    2**63 - 1,
    2**62 + 1,
    2**40,
    2**32 + 1,
    2**32 - 1,
    2**31,
    98_362_432,
    1 << 24,
]
SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
EXAMPLES = 300


@dataclass(frozen=True)
class Layout:
    """Where things are in the original file: the u64 and u32 fields, and the region boundaries."""

    prefix: bytes  # everything before the tensor data
    file_size: int
    tensor_infos_start: int
    u64_fields: list[int]  # lengths, counts, dims, data offsets
    u32_fields: list[int]  # version, value types, element types, n_dims, ggml types


def walk(buffer: bytes) -> tuple[list[int], list[int], int, int]:
    """A minimal independent walk over a valid GGUF header: field positions, tensor-info start, data start."""
    u64s, u32s = [8, 16], [4]
    tensor_count, kv_count = struct.unpack_from("<QQ", buffer, 8)
    position = 24

    def u64() -> int:
        nonlocal position
        u64s.append(position)
        position += 8
        return struct.unpack_from("<Q", buffer, position - 8)[0]

    def u32() -> int:
        nonlocal position
        u32s.append(position)
        position += 4
        return struct.unpack_from("<I", buffer, position - 4)[0]

    def value(value_type: int) -> None:
        nonlocal position
        if value_type == 8:
            length = u64()  # (not `position += u64()`: that would add to the position read before the call)
            position += length
        elif value_type == 9:
            element_type, count = u32(), u64()
            if element_type in SCALAR_SIZES:
                position += count * SCALAR_SIZES[element_type]
            else:
                for _ in range(count):
                    value(element_type)
        else:
            position += SCALAR_SIZES[value_type]

    alignment = 32
    for _ in range(kv_count):
        key_length = u64()
        key = buffer[position : position + key_length].decode()
        position += key_length
        value_type = u32()
        if key == "general.alignment":
            alignment = struct.unpack_from("<I", buffer, position)[0]
        value(value_type)
    tensor_infos_start = position
    for _ in range(tensor_count):
        name_length = u64()
        position += name_length
        for _ in range(u32()):
            u64()
        u32()
        u64()
    data_start = -(-position // alignment) * alignment
    return u64s, u32s, tensor_infos_start, data_start


@pytest.fixture(scope="module")
def layout() -> Layout:
    path = smollm2_gguf()
    with open(path, "rb") as file:
        head = file.read(4 << 20)
    u64s, u32s, tensor_infos_start, data_start = walk(head)
    with read_gguf(path) as model:
        assert model.data_start == data_start  # the walk agrees with the reader on the undamaged file
    return Layout(head[:data_start], path.stat().st_size, tensor_infos_start, u64s, u32s)


@st.composite
def mutations(draw, layout: Layout) -> tuple:
    """('flip', [(pos, byte)]), ('u64' | 'u32', pos, value), ('truncate', size) or ('insert', pos, bytes)."""
    end = len(layout.prefix)
    anywhere = st.integers(0, end - 1)
    position = st.one_of(st.integers(0, 1023), st.integers(layout.tensor_infos_start, end - 1), anywhere)
    kind = draw(st.sampled_from(["flip", "u64", "u64", "u32", "truncate", "insert"]))
    if kind == "flip":
        return ("flip", draw(st.lists(st.tuples(position, st.integers(0, 255)), min_size=1, max_size=8)))
    if kind == "u64":
        field = draw(st.one_of(st.sampled_from(layout.u64_fields[:64]), st.sampled_from(layout.u64_fields)))
        return ("u64", field, draw(st.one_of(st.sampled_from(HUGE_VALUES), st.integers(0, 2**64 - 1))))
    if kind == "u32":
        return ("u32", draw(st.sampled_from(layout.u32_fields)), draw(st.integers(0, 2**32 - 1)))
    if kind == "truncate":
        return (
            "truncate",
            draw(st.one_of(st.integers(0, 64), anywhere, st.integers(0, layout.file_size - 1))),
        )
    return ("insert", draw(position), draw(st.binary(min_size=1, max_size=16)))


def write_mutant(path: Path, layout: Layout, mutation: tuple) -> None:
    """The mutated header region, then a sparse zero-filled extension to the file's (mutated) size."""
    head, size = bytearray(layout.prefix), layout.file_size
    kind = mutation[0]
    if kind == "flip":
        for position, byte in mutation[1]:
            head[position] = byte
    elif kind == "u64":
        struct.pack_into("<Q", head, mutation[1], mutation[2])
    elif kind == "u32":
        struct.pack_into("<I", head, mutation[1], mutation[2])
    elif kind == "truncate":
        size = mutation[1]
        del head[size:]
    else:
        head[mutation[1] : mutation[1]] = mutation[2]
        size += len(mutation[2])
    with open(path, "wb") as file:
        file.write(head)
        file.truncate(size)


@contextlib.contextmanager
def address_space_headroom(extra_bytes: int) -> Iterator[None]:
    """Cap this process's virtual memory at its current size + `extra_bytes` (Linux; elsewhere no cap)."""
    try:
        with open("/proc/self/statm") as statm:
            current = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = current + extra_bytes
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def parse(path: Path) -> str:
    """'parsed' or 'GlossaError: …'; anything else propagates and fails the test."""
    try:
        with read_gguf(path) as model:
            assert all(info.file_offset + info.n_bytes <= model.file_size for info in model.tensors.values())
            small = [info for info in model.tensors.values() if info.n_bytes <= 1 << 20][:3]
            for info in small:
                dequantize(model.tensor_bytes(info.name), info.ggml_type.type_id, info.shape)
        return "parsed"
    except GlossaError as error:
        assert "\n" not in str(error)  # one line, as the CLI prints it
        return "GlossaError"


def test_damaged_files_parse_or_raise_glossa_error(layout, tmp_path_factory):
    folder = tmp_path_factory.mktemp("gguf_fuzz")
    outcomes: Counter[str] = Counter()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(mutations(layout))
    def case(mutation: tuple) -> None:
        path = folder / "mutant.gguf"
        write_mutant(path, layout, mutation)
        with address_space_headroom(1 << 30):
            outcome = parse(path)
        outcomes[f"{mutation[0]}: {outcome}"] += 1

    case()
    total = sum(outcomes.values())
    print(f"\nGGUF fuzz: {total} damaged files, {dict(sorted(outcomes.items()))}")
    assert total >= EXAMPLES * 0.9
    assert any(key.endswith("GlossaError") for key in outcomes)


@pytest.mark.parametrize("index", range(12))
def test_every_early_length_set_to_the_maximum_is_a_glossa_error(layout, tmp_path, index):
    """Deterministic companions to the fuzzer: the first u64 fields (counts, key lengths, the first array
    counts) set to 2^64 − 1 must be refused before anything is allocated."""
    path = tmp_path / "huge.gguf"
    write_mutant(path, layout, ("u64", layout.u64_fields[index], 2**64 - 1))
    with address_space_headroom(1 << 30), pytest.raises(GlossaError):
        read_gguf(path)


def test_the_memory_guard_bites():
    """The cap the fuzzer parses under really refuses a 2 GiB allocation (and is lifted afterwards)."""
    with address_space_headroom(1 << 30), pytest.raises(MemoryError):
        bytearray(2 << 30)
    assert len(bytearray(1 << 20)) == 1 << 20
