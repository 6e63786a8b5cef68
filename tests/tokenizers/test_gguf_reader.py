"""Our GGUF reader against gguf-py (llama.cpp's own reader), and against damaged files.

Exactness: on the real SmolLM2 file and on a small file written by gguf-py's `GGUFWriter` with every value
type, the metadata (keys, values, type tags), the tensor infos (names, dims, types, offsets, sizes), the
alignment and the data start equal what `gguf.GGUFReader` reads, and tensor bytes are the same bytes.

Robustness: truncations at every byte of the small file, huge and odd values written over every header
position, seeded random byte flips, and targeted patches of the real file (counts, lengths, types, dims,
offsets) must each end in a GlossaError or a clean parse — never another exception — and never allocate
more than a few megabytes (tracemalloc).
"""

from __future__ import annotations

import contextlib
import random
import shutil
import struct
import tracemalloc

import gguf
import numpy as np
import pytest

from glossa.errors import GlossaError
from glossa.formats.gguf import GGML_TYPES, GGUFFile, ValueType, read_gguf

MEBIBYTE = 1 << 20


def plain(value):
    """Our metadata value in gguf-py's `contents()` form (lists instead of arrays, nested too)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def assert_same_as_gguf_py(ours: GGUFFile, theirs: gguf.GGUFReader) -> None:
    keys = [key for key in theirs.fields if not key.startswith("GGUF.")]
    assert list(ours.metadata) == keys
    for key in keys:
        field = theirs.fields[key]
        assert [int(tag) for tag in ours.metadata_types[key]] == [int(tag) for tag in field.types], key
        expected = field.contents()
        value = plain(ours.metadata[key])
        if field.types[-1] in (gguf.GGUFValueType.FLOAT32, gguf.GGUFValueType.FLOAT64):
            np.testing.assert_array_equal(np.asarray(value), np.asarray(expected), err_msg=key)
        else:
            assert value == expected, key
    assert ours.version == theirs.fields["GGUF.version"].contents()
    assert ours.alignment == theirs.alignment
    assert ours.data_start == theirs.data_offset
    assert list(ours.tensors) == [tensor.name for tensor in theirs.tensors]
    for tensor in theirs.tensors:
        info = ours.tensors[tensor.name]
        assert list(info.dims) == tensor.shape.tolist(), tensor.name
        assert info.ggml_type.type_id == int(tensor.tensor_type), tensor.name
        assert info.file_offset == tensor.data_offset, tensor.name
        assert info.n_bytes == tensor.n_bytes and info.n_elements == tensor.n_elements, tensor.name


def test_smollm2_matches_gguf_py(smollm2_gguf_path, smollm2_gguf_reader):
    with read_gguf(smollm2_gguf_path) as ours:
        assert_same_as_gguf_py(ours, smollm2_gguf_reader)
        assert ours.metadata["general.architecture"] == "llama"
        assert ours.tensors["token_embd.weight"].shape == (49152, 576)
        for tensor in smollm2_gguf_reader.tensors[:3] + smollm2_gguf_reader.tensors[-2:]:
            raw = ours.tensor_bytes(tensor.name)
            assert not raw.flags.writeable
            assert np.array_equal(raw, np.asarray(tensor.data).reshape(-1).view(np.uint8)), tensor.name


def test_tensor_bytes_are_a_view_of_the_mapped_file(smollm2_gguf_path):
    with read_gguf(smollm2_gguf_path) as ours:
        info = ours.tensors["output_norm.weight"]
        raw = ours.tensor_bytes("output_norm.weight")
        with open(smollm2_gguf_path, "rb") as file:
            file.seek(info.file_offset)
            assert raw.tobytes() == file.read(info.n_bytes)
        assert raw.base is not None  # a view, not a copy
        with pytest.raises(GlossaError, match="no tensor named"):
            ours.tensor_bytes("nonexistent.weight")


def test_ggml_type_table_matches_gguf_py():
    for quant_type, (block_size, type_size) in gguf.GGML_QUANT_SIZES.items():
        ours = GGML_TYPES[int(quant_type)]
        assert (ours.name, ours.block_size, ours.type_size) == (quant_type.name, block_size, type_size)


# -- a small file with every value type ---------------------------------------------------------------------


def write_every_type(path) -> None:
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_uint8("test.uint8", 200)
    writer.add_int8("test.int8", -100)
    writer.add_uint16("test.uint16", 60000)
    writer.add_int16("test.int16", -30000)
    writer.add_uint32("test.uint32", 4_000_000_000)
    writer.add_int32("test.int32", -2_000_000_000)
    writer.add_float32("test.float32", 0.1)
    writer.add_bool("test.bool", True)
    writer.add_string("test.string", "héllo 中 👍")
    writer.add_uint64("test.uint64", 2**64 - 1)
    writer.add_int64("test.int64", -(2**63))
    writer.add_float64("test.float64", 1e300)
    writer.add_array("test.ints", [1, -2, 3])
    writer.add_array("test.floats", [0.5, -1.25])
    writer.add_array("test.bools", [True, False, True])
    writer.add_array("test.strings", ["a", "", "Ġthe", "<|im_start|>"])
    writer.add_custom_alignment(64)
    writer.add_tensor("f32", np.arange(12, dtype=np.float32).reshape(3, 4))
    writer.add_tensor("f16", np.ones((2, 8), dtype=np.float16))
    q8_rows = np.arange(2 * 34, dtype=np.uint8).reshape(2, 34)  # two Q8_0 blocks of 32 weights
    writer.add_tensor("q8", q8_rows, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    writer.add_tensor("i32", np.arange(16, dtype=np.int32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.fixture(scope="module")
def small_gguf(tmp_path_factory):
    path = tmp_path_factory.mktemp("gguf") / "every-type.gguf"
    write_every_type(path)
    return path


def test_small_file_matches_gguf_py(small_gguf):
    with read_gguf(small_gguf) as ours:
        assert_same_as_gguf_py(ours, gguf.GGUFReader(small_gguf))
        assert ours.alignment == 64 and ours.data_start % 64 == 0
        assert ours.metadata["test.string"] == "héllo 中 👍"
        assert ours.metadata["test.uint64"] == 2**64 - 1
        assert ours.metadata_types["test.strings"] == (ValueType.ARRAY, ValueType.STRING)
        assert ours.tensors["f32"].shape == (3, 4) and ours.tensors["q8"].n_bytes == 68
        assert ours.tensor_bytes("f32").view(np.float32).tolist() == list(range(12))


def test_nested_arrays(tmp_path):
    path = tmp_path / "nested.gguf"
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_array("test.nested", [[1, 2], [3]])
    writer.add_array("test.nested_strings", [["a"], ["b", "c"]])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    with read_gguf(path) as ours:
        assert plain(ours.metadata["test.nested"]) == [[1, 2], [3]]
        assert ours.metadata["test.nested_strings"] == [["a"], ["b", "c"]]
        assert ours.metadata_types["test.nested"][:2] == (ValueType.ARRAY, ValueType.ARRAY)


def hand_made_gguf(key: bytes, value: bytes) -> bytes:
    """A version-3 GGUF with no tensors and one metadata entry (`value` starts with its type)."""
    return b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", len(key)) + key + value


def test_hand_made_arrays(tmp_path):
    path = tmp_path / "hand-made.gguf"
    array_of_one_array = struct.pack("<IQ", ValueType.ARRAY, 1)  # element type, count
    nested = (
        struct.pack("<I", ValueType.ARRAY) + array_of_one_array * 9 + struct.pack("<IQ", ValueType.UINT8, 0)
    )
    path.write_bytes(hand_made_gguf(b"deep", nested))
    with pytest.raises(GlossaError, match="nests arrays more than 8 deep"):
        read_gguf(path)
    path.write_bytes(hand_made_gguf(b"empty", struct.pack("<IIQ", ValueType.ARRAY, ValueType.FLOAT32, 0)))
    with read_gguf(path) as ours:
        assert ours.metadata["empty"].tolist() == [] and ours.data_start == 64
    path.write_bytes(hand_made_gguf(b"k\xff", struct.pack("<IB", ValueType.UINT8, 7)))
    with pytest.raises(GlossaError, match=r"metadata key 0 is not valid UTF-8 .*\(at byte 33\)"):
        read_gguf(path)


@pytest.mark.parametrize(
    ("alignment", "value_type", "message"),
    [(3, "uint32", "power of two"), (0, "uint32", "power of two"), (32, "uint64", "must be a UINT32")],
)
def test_bad_alignment(tmp_path, alignment, value_type, message):
    path = tmp_path / "aligned.gguf"
    writer = gguf.GGUFWriter(path, "llama")
    getattr(writer, f"add_{value_type}")("general.alignment", alignment)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    with pytest.raises(GlossaError, match=message):
        read_gguf(path)


# -- damaged files ------------------------------------------------------------------------------------------


class MutatedFile:
    """One file in tmp_path rewritten in place for each case (a fresh file per case costs ~2 ms here)."""

    def __init__(self, path):
        self.path = path
        self.handle = open(path, "w+b")  # noqa: SIM115 - closed by the fixture-free test at its end

    def outcome(self, data: bytes) -> str:
        self.handle.seek(0)
        self.handle.write(data)
        self.handle.truncate()
        self.handle.flush()
        return outcome(self.path)

    def close(self):
        self.handle.close()


def outcome(path) -> str:
    """'ok' or 'error'; anything but a one-line GlossaError fails the test."""
    try:
        read_gguf(path).close()
    except GlossaError as error:
        assert "\n" not in str(error)
        return "error"
    return "ok"


class AllocationGuard:
    """The peak of Python and numpy allocations over a block (tracemalloc), in `peak`."""

    def __enter__(self):
        tracemalloc.start()
        return self

    def __exit__(self, *exc_info):
        self.peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def overwrite(data: bytes, at: int, new: bytes) -> bytes:
    return data[:at] + new + data[at + len(new) :]


def test_small_file_fuzz(small_gguf, tmp_path):
    """Every truncation, huge values written at every header byte, and seeded random byte flips."""
    original = small_gguf.read_bytes()
    with read_gguf(small_gguf) as parsed:
        data_end = max(info.file_offset + info.n_bytes for info in parsed.tensors.values())
        header_end = parsed.data_start
    mutated = MutatedFile(tmp_path / "mutated.gguf")
    cases = 0
    try:
        for cut in range(data_end):
            assert mutated.outcome(original[:cut]) == "error", f"truncated at {cut}"
            cases += 1
        with AllocationGuard() as guard:
            for at in range(header_end):
                for huge in (b"\xff" * 8, struct.pack("<Q", 2**40)):
                    mutated.outcome(overwrite(original, at, huge))
                    cases += 1
        assert guard.peak < 2 * MEBIBYTE, guard.peak
        for at in range(header_end):
            for odd in (struct.pack("<I", 2**31), struct.pack("<I", 13)):
                mutated.outcome(overwrite(original, at, odd))
                cases += 1
        generator = random.Random(1234)
        for _ in range(300):
            flipped = bytearray(original)
            for _ in range(generator.randint(1, 4)):
                flipped[generator.randrange(header_end)] = generator.randrange(256)
            mutated.outcome(bytes(flipped))
            cases += 1
    finally:
        mutated.close()
    assert cases > 4000


@pytest.fixture(scope="module")
def smollm2_copy(smollm2_gguf_path, tmp_path_factory):
    copy = tmp_path_factory.mktemp("smollm2") / "copy.gguf"
    shutil.copyfile(smollm2_gguf_path, copy)
    return copy


def part_offset(field, index: int) -> int:
    """Where part `index` of a gguf-py ReaderField starts in the file."""
    return field.offset + sum(part.nbytes for part in field.parts[:index])


def real_file_patches(reader: gguf.GGUFReader) -> list[tuple[str, int, bytes]]:
    """(what, offset, new bytes) for each targeted damage of the SmolLM2 file."""
    u32, u64 = (lambda v: struct.pack("<I", v)), (lambda v: struct.pack("<Q", v))
    size = reader.data.nbytes
    fields = reader.fields
    tokens, merges, template = (
        fields["tokenizer.ggml.tokens"],
        fields["tokenizer.ggml.merges"],
        fields["tokenizer.chat_template"],
    )
    general_name = fields["general.name"]
    embedding, second, last = reader.tensors[0].field, reader.tensors[1].field, reader.tensors[-1].field
    attn_q = next(t.field for t in reader.tensors if t.name == "blk.0.attn_q.weight")
    patches = [
        ("magic", 0, b"GGUG"),
        ("version 1", 4, u32(1)),
        ("version 4", 4, u32(4)),
        ("big-endian version", 4, b"\x00\x00\x00\x03"),
        ("tensor count 2^64-1", 8, u64(2**64 - 1)),
        ("tensor count 2^40", 8, u64(2**40)),
        ("metadata count 2^64-1", 16, u64(2**64 - 1)),
        ("metadata count 2^40", 16, u64(2**40)),
        ("first key length", 24, u64(2**64 - 1)),
        ("first key length = file size", 24, u64(size)),
        ("key not UTF-8", part_offset(general_name, 1), b"\xff"),
        ("duplicate key", part_offset(general_name, 1), b"general.type"),
        ("value type 13", part_offset(general_name, 2), u32(13)),
        ("value type 2^31", part_offset(general_name, 2), u32(2**31)),
        ("string length 2^63", part_offset(template, 3), u64(2**63)),
        ("tokens element type 13", part_offset(tokens, 3), u32(13)),
        ("tokens count 2^64-1", part_offset(tokens, 4), u64(2**64 - 1)),
        ("tokens count 2^40", part_offset(tokens, 4), u64(2**40)),
        ("tokens count = file size / 8", part_offset(tokens, 4), u64(size // 8)),
        ("token 1000 length 2^64-1", part_offset(tokens, 5 + 2 * 1000), u64(2**64 - 1)),
        ("token 1000 length 2^32", part_offset(tokens, 5 + 2 * 1000), u64(2**32)),
        ("merges count 2^50", part_offset(merges, 4), u64(2**50)),
        ("tensor name length", part_offset(embedding, 0), u64(2**64 - 1)),
        ("n_dims 5", part_offset(embedding, 2), u32(5)),
        ("n_dims 2^31", part_offset(embedding, 2), u32(2**31)),
        ("dim 2^40", part_offset(embedding, 3), u64(2**40)),
        ("dims overflow int64", part_offset(embedding, 3) + 8, u64(2**63)),
        ("dim not a block multiple", part_offset(reader.tensors[2].field, 3), u64(1537)),
        ("ggml type 99", part_offset(embedding, 4), u32(99)),
        ("ggml type 31 (removed)", part_offset(second, 4), u32(31)),
        ("tensor offset unaligned", part_offset(second, 5), u64(1)),
        ("tensor offset past the end", part_offset(last, 5), u64(size)),
        ("tensor offset 2^63", part_offset(second, 5), u64(2**63)),
        ("duplicate tensor name", part_offset(attn_q, 1), b"blk.0.attn_k.weight"),
    ]
    return patches


def test_smollm2_patched_fields_fail_cleanly(smollm2_copy, smollm2_gguf_reader):
    patches = real_file_patches(smollm2_gguf_reader)
    first_tensor_info = smollm2_gguf_reader.tensors[0].field.offset
    with open(smollm2_copy, "r+b") as file:
        for what, offset, new in patches:
            file.seek(offset)
            old = file.read(len(new))
            file.seek(offset)
            file.write(new)
            file.flush()
            # allocations are traced up to the tensor infos, where they could happen (tracing is slow)
            traced = offset < first_tensor_info
            try:
                guard = AllocationGuard() if traced else contextlib.nullcontext()
                with guard, pytest.raises(GlossaError) as raised:
                    read_gguf(smollm2_copy)
            finally:
                file.seek(offset)
                file.write(old)
                file.flush()
            message = str(raised.value)
            assert "\n" not in message, what
            assert "at byte" in message or "is not a GGUF file" in message, (what, message)
            if traced:
                assert guard.peak < 32 * MEBIBYTE, (what, guard.peak)  # the whole metadata takes ~9 MiB
    assert outcome(smollm2_copy) == "ok"  # every patch was undone
    assert len(patches) >= 30


def test_smollm2_truncated_fails_cleanly(smollm2_copy, smollm2_gguf_reader, tmp_path):
    truncated = tmp_path / "truncated.gguf"
    shutil.copyfile(smollm2_copy, truncated)
    size = truncated.stat().st_size
    data_start = smollm2_gguf_reader.data_offset
    tokens_at = smollm2_gguf_reader.fields["tokenizer.ggml.tokens"].offset
    cuts = [size - 1, size - 4096, size // 2, data_start + 100, data_start, data_start - 1, data_start - 5000,
            tokens_at + 300_000, tokens_at + 9, 1000, 25, 24, 23, 8, 4, 3, 0]  # fmt: skip
    for cut in cuts:  # each cut is shorter than the last, so one file is truncated step by step
        with open(truncated, "r+b") as file:
            file.truncate(cut)
        with pytest.raises(GlossaError) as raised:
            read_gguf(truncated)
        assert "\n" not in str(raised.value), cut


def test_missing_and_directory(tmp_path):
    with pytest.raises(GlossaError, match="no such GGUF file"):
        read_gguf(tmp_path / "absent.gguf")
    with pytest.raises(GlossaError, match="is a directory"):
        read_gguf(tmp_path)
