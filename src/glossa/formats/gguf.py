"""GGUF, read by our own code: header, metadata, tensor infos, and memory-mapped tensor bytes.

GGUF (llama.cpp's single-file model format, versions 2 and 3) is one little-endian file in four parts:

    header        magic "GGUF" | version u32 | tensor count u64 | metadata count u64
    metadata      key (string) | value type (u32) | value                        × metadata count
    tensor infos  name (string) | n_dims (u32) | dims (u64 × n_dims)
                  | ggml type (u32) | offset (u64)                                × tensor count
    padding up to `general.alignment` (default 32), then the tensor data; each offset counts from its start

A string is a u64 byte length and that many UTF-8 bytes; an array is an element type (u32), a count (u64) and
the elements (arrays may nest). Dims are in ggml order, fastest-varying first: `token_embd.weight` is stored
as [576, 49152] and is a (49152, 576) matrix in numpy/torch order (`TensorInfo.shape`).

The file is untrusted input. Every length, count and offset is checked against the bytes that remain BEFORE
anything is allocated, so a damaged or hostile file fails with a `GlossaError` that names the problem and its
byte offset, never with a MemoryError, a struct.error or a read past the end. Every element of an array takes
at least one byte of the file, so nothing built here can be much larger than the file itself.

The file is memory-mapped, not read: opening a 100 MB model touches only its few-megabyte header, and
`tensor_bytes(name)` is a read-only numpy view over the mapped pages, so the operating system loads, shares
and evicts tensor data on demand. What those bytes mean (Q4_1 blocks, F16, …) is the dequantizer's business;
here a tensor is a name, dims, a ggml type and the place of its bytes.

    >>> with read_gguf("SmolLM2-135M-Instruct.Q4_1.gguf") as model:
    ...     model.metadata["general.architecture"], model.tensors["token_embd.weight"].shape
    ('llama', (49152, 576))
"""

from __future__ import annotations

import contextlib
import mmap
import struct
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

import numpy as np

from glossa.errors import GlossaError

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
HEADER_BYTES = 24  # magic, version, tensor count, metadata count
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_ARRAY_NESTING = 8
MAX_INT64 = 2**63 - 1


class ValueType(IntEnum):
    """The type tag of a metadata value."""

    UINT8 = 0
    INT8 = 1
    UINT16 = 2
    INT16 = 3
    UINT32 = 4
    INT32 = 5
    FLOAT32 = 6
    BOOL = 7
    STRING = 8
    ARRAY = 9
    UINT64 = 10
    INT64 = 11
    FLOAT64 = 12


_SCALAR_DTYPES: dict[ValueType, np.dtype] = {
    ValueType.UINT8: np.dtype("<u1"),
    ValueType.INT8: np.dtype("<i1"),
    ValueType.UINT16: np.dtype("<u2"),
    ValueType.INT16: np.dtype("<i2"),
    ValueType.UINT32: np.dtype("<u4"),
    ValueType.INT32: np.dtype("<i4"),
    ValueType.FLOAT32: np.dtype("<f4"),
    ValueType.BOOL: np.dtype("<u1"),  # one byte, any non-zero value is true
    ValueType.UINT64: np.dtype("<u8"),
    ValueType.INT64: np.dtype("<i8"),
    ValueType.FLOAT64: np.dtype("<f8"),
}
_SCALAR_FORMATS: dict[ValueType, struct.Struct] = {
    value_type: struct.Struct("<" + code)
    for value_type, code in zip(_SCALAR_DTYPES, "BbHhIifBQqd", strict=True)
}
_MIN_ELEMENT_BYTES = {
    **{t: d.itemsize for t, d in _SCALAR_DTYPES.items()},
    ValueType.STRING: 8,
    ValueType.ARRAY: 12,
}
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


@dataclass(frozen=True)
class GGMLType:
    """A tensor element type: `block_size` elements are stored in `type_size` bytes."""

    type_id: int
    name: str
    block_size: int
    type_size: int


# fmt: off
GGML_TYPES: dict[int, GGMLType] = {
    t[0]: GGMLType(*t)
    for t in [
        (0, "F32", 1, 4), (1, "F16", 1, 2), (2, "Q4_0", 32, 18), (3, "Q4_1", 32, 20), (6, "Q5_0", 32, 22),
        (7, "Q5_1", 32, 24), (8, "Q8_0", 32, 34), (9, "Q8_1", 32, 40), (10, "Q2_K", 256, 84),
        (11, "Q3_K", 256, 110), (12, "Q4_K", 256, 144), (13, "Q5_K", 256, 176), (14, "Q6_K", 256, 210),
        (15, "Q8_K", 256, 292), (16, "IQ2_XXS", 256, 66), (17, "IQ2_XS", 256, 74), (18, "IQ3_XXS", 256, 98),
        (19, "IQ1_S", 256, 50), (20, "IQ4_NL", 32, 18), (21, "IQ3_S", 256, 110), (22, "IQ2_S", 256, 82),
        (23, "IQ4_XS", 256, 136), (24, "I8", 1, 1), (25, "I16", 1, 2), (26, "I32", 1, 4), (27, "I64", 1, 8),
        (28, "F64", 1, 8), (29, "IQ1_M", 256, 56), (30, "BF16", 1, 2), (34, "TQ1_0", 256, 54),
        (35, "TQ2_0", 256, 66), (39, "MXFP4", 32, 17), (40, "NVFP4", 64, 36), (41, "Q1_0", 128, 18),
    ]
}
# fmt: on


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor lives in the file. `dims` are ggml order (as stored); `shape` is numpy/torch order."""

    name: str
    dims: tuple[int, ...]
    ggml_type: GGMLType
    offset: int  # as stored: bytes from the start of the data section
    file_offset: int  # bytes from the start of the file
    n_bytes: int

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(reversed(self.dims))

    @property
    def n_elements(self) -> int:
        count = 1
        for dim in self.dims:
            count *= dim
        return count


class GGUFFile:
    """An open GGUF file: `version`, `metadata` (key -> value), `metadata_types` (key -> type tags),
    `tensors` (name -> TensorInfo, in file order), `alignment`, `data_start`; `tensor_bytes(name)` maps a
    tensor's raw bytes. Numeric metadata arrays are numpy arrays copied out of the file and string arrays are
    lists of str, so the metadata outlives `close()`; tensor views keep the mapping alive until dropped."""

    def __init__(self, path: Path, mapped: mmap.mmap) -> None:
        self.path = path
        self._mapped = mapped
        self.file_size = len(mapped)
        self.metadata: dict[str, Any] = {}
        self.metadata_types: dict[str, tuple[ValueType, ...]] = {}
        self.tensors: dict[str, TensorInfo] = {}
        self.alignment = DEFAULT_ALIGNMENT
        self.version = 0
        self.data_start = 0
        _Parser(self, mapped).parse()

    def tensor_bytes(self, name: str) -> np.ndarray:
        """The raw bytes of tensor `name`: a read-only uint8 view over the memory map, no copy."""
        if self._mapped.closed:
            raise ValueError(f"{self.path} is closed")
        info = self.tensors.get(name)
        if info is None:
            raise GlossaError(f"{self.path.name} has no tensor named {name!r} ({len(self.tensors)} tensors)")
        return np.frombuffer(self._mapped, dtype=np.uint8, count=info.n_bytes, offset=info.file_offset)

    def release(self, name: str) -> None:
        """Say that this process is done with tensor `name`'s bytes: their pages leave its resident set (they
        stay in the page cache; reading them again maps them back in). A loader that converts tensors one at
        a time calls this after each, so the mapped file never adds its whole size to the peak memory."""
        info = self.tensors.get(name)
        if info is None or self._mapped.closed or not hasattr(mmap, "MADV_DONTNEED"):
            return
        start = info.file_offset - info.file_offset % mmap.PAGESIZE  # madvise wants a page-aligned start
        self._mapped.madvise(mmap.MADV_DONTNEED, start, info.file_offset + info.n_bytes - start)

    def close(self) -> None:
        # While tensor views still use the map, it stays mapped and goes with the last of them.
        with contextlib.suppress(BufferError):
            self._mapped.close()

    def __enter__(self) -> GGUFFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"GGUFFile({str(self.path)!r}, version={self.version}, metadata={len(self.metadata)}, "
            f"tensors={len(self.tensors)})"
        )


def read_gguf(path: str | Path) -> GGUFFile:
    """Map and parse a GGUF file; use it as a context manager (or call `close()`) to unmap it."""
    path = Path(path)
    try:
        with open(path, "rb") as file:
            size = file.seek(0, 2)
            if size < HEADER_BYTES:
                raise GlossaError(
                    f"{path} is {size} bytes, too short for a GGUF header ({HEADER_BYTES} bytes); "
                    "the file is truncated or not a GGUF model"
                )
            mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError:
        raise GlossaError(f"no such GGUF file: {path}") from None
    except IsADirectoryError:
        raise GlossaError(f"{path} is a directory; give the path of a .gguf file") from None
    except PermissionError:
        raise GlossaError(f"cannot read {path}: permission denied") from None
    except OSError as error:
        raise GlossaError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        return GGUFFile(path, mapped)
    except BaseException:
        mapped.close()
        raise


def read_gguf_metadata(path: str | Path) -> dict[str, Any]:
    """Only the metadata of a GGUF file (the mapping is closed again)."""
    with read_gguf(path) as gguf:
        return gguf.metadata


class _Parser:
    """A cursor over the mapped bytes that checks every read against the end of the file."""

    def __init__(self, target: GGUFFile, buffer: mmap.mmap) -> None:
        self.target = target
        self.buffer = buffer
        self.size = len(buffer)
        self.position = 0

    def fail(self, problem: str, offset: int | None = None) -> GlossaError:
        at = self.position if offset is None else offset
        return GlossaError(f"damaged GGUF file {self.target.path}: {problem} (at byte {at})")

    def need(self, n_bytes: int, what: str) -> int:
        """Claim the next `n_bytes` for `what` and return where they start."""
        start = self.position
        if n_bytes > self.size - start:
            raise self.fail(f"{what} needs {n_bytes} bytes but only {self.size - start} remain in the file")
        self.position = start + n_bytes
        return start

    def u32(self, what: str) -> int:
        return _U32.unpack_from(self.buffer, self.need(4, what))[0]

    def u64(self, what: str) -> int:
        return _U64.unpack_from(self.buffer, self.need(8, what))[0]

    def string(self, what: str) -> str:
        length_at = self.position
        length = self.u64(f"the length of {what}")
        if length > self.size - self.position:
            raise self.fail(
                f"{what} claims {length} bytes but only {self.size - self.position} remain in the file",
                length_at,
            )
        start = self.position
        self.position += length
        try:
            return str(self.buffer[start : start + length], "utf-8")
        except UnicodeDecodeError as error:
            raise self.fail(f"{what} is not valid UTF-8 ({error.reason})", start + error.start) from None

    def string_array(self, count: int, what: str) -> list[str]:
        """`count` strings: the same checks as `string`, in one tight loop (a vocabulary has 10⁵ of them)."""
        buffer, size, position, unpack_length = self.buffer, self.size, self.position, _U64.unpack_from
        strings = []
        for index in range(count):
            if size - position < 8:
                self.position = position
                raise self.fail(f"the length of element {index} of {what} runs past the end of the file")
            (length,) = unpack_length(buffer, position)
            if length > size - position - 8:
                self.position = position
                raise self.fail(
                    f"element {index} of {what} claims {length} bytes but only {size - position - 8} remain"
                )
            position += 8
            try:
                strings.append(str(buffer[position : position + length], "utf-8"))
            except UnicodeDecodeError as error:
                raise self.fail(
                    f"element {index} of {what} is not valid UTF-8 ({error.reason})", position + error.start
                ) from None
            position += length
        self.position = position
        return strings

    def value_type(self, what: str) -> ValueType:
        at = self.position
        raw = self.u32(f"the type of {what}")
        try:
            return ValueType(raw)
        except ValueError:
            raise self.fail(f"{what} has unknown value type {raw} (known: 0..12)", at) from None

    def value(self, value_type: ValueType, what: str, depth: int = 0) -> tuple[Any, tuple[ValueType, ...]]:
        """A value and its type tags (for an array: ARRAY, then the element's tags)."""
        if value_type == ValueType.STRING:
            return self.string(what), (value_type,)
        if value_type != ValueType.ARRAY:
            start = self.need(_SCALAR_DTYPES[value_type].itemsize, what)
            scalar = _SCALAR_FORMATS[value_type].unpack_from(self.buffer, start)[0]
            return (scalar != 0 if value_type == ValueType.BOOL else scalar), (value_type,)
        if depth >= MAX_ARRAY_NESTING:
            raise self.fail(f"{what} nests arrays more than {MAX_ARRAY_NESTING} deep")
        element_type = self.value_type(f"the elements of {what}")
        count_at = self.position
        count = self.u64(f"the element count of {what}")
        if count * _MIN_ELEMENT_BYTES[element_type] > self.size - self.position:
            raise self.fail(
                f"{what} claims {count} {element_type.name} elements, more than the "
                f"{self.size - self.position} bytes left in the file can hold",
                count_at,
            )
        if element_type in _SCALAR_DTYPES:
            dtype = _SCALAR_DTYPES[element_type]
            start = self.need(count * dtype.itemsize, what)
            array = np.frombuffer(self.buffer, dtype=dtype, count=count, offset=start)
            array = array != 0 if element_type == ValueType.BOOL else array.astype(dtype.newbyteorder("="))
            return array, (ValueType.ARRAY, element_type)
        if element_type == ValueType.STRING:
            return self.string_array(count, what), (ValueType.ARRAY, element_type)
        items, tags = [], (ValueType.ARRAY, element_type)
        for index in range(count):
            item, item_tags = self.value(element_type, f"element {index} of {what}", depth + 1)
            items.append(item)
            tags = (ValueType.ARRAY, *item_tags)
        return items, tags

    def parse(self) -> None:
        target = self.target
        magic = bytes(self.buffer[0:4])
        if magic != MAGIC:
            raise GlossaError(f"{target.path} is not a GGUF file: it starts with {magic!r}, not {MAGIC!r}")
        self.position = 4
        target.version = self.u32("the version")
        if target.version not in SUPPORTED_VERSIONS:
            if _U32.unpack(_U32.pack(target.version)[::-1])[0] in SUPPORTED_VERSIONS:
                raise self.fail("a big-endian GGUF file; only little-endian files are supported", 4)
            raise self.fail(f"GGUF version {target.version} is not supported (only 2 and 3)", 4)
        count_at = self.position
        tensor_count = self.u64("the tensor count")
        metadata_count = self.u64("the metadata count")
        if tensor_count * 24 > self.size - self.position:  # a name length, n_dims, a type and an offset
            raise self.fail(f"tensor count {tensor_count} cannot fit in the file", count_at)
        if metadata_count * 13 > self.size - self.position:  # a key length, a type and a one-byte value
            raise self.fail(f"metadata count {metadata_count} cannot fit in the file", count_at + 8)
        for index in range(metadata_count):
            key_at = self.position
            key = self.string(f"metadata key {index}")
            if key in target.metadata:
                raise self.fail(f"metadata key {key!r} appears twice", key_at)
            value_type = self.value_type(f"metadata value {key!r}")
            target.metadata[key], target.metadata_types[key] = self.value(
                value_type, f"metadata value {key!r}"
            )
        self.read_alignment()
        if tensor_count * 24 > self.size - self.position:  # checked again now that the metadata is behind
            raise self.fail(f"tensor count {tensor_count} cannot fit in the file", count_at)
        infos = [self.tensor_info(index) for index in range(tensor_count)]
        target.data_start = -(-self.position // target.alignment) * target.alignment
        for name, dims, ggml_type, offset, n_bytes, info_at in infos:
            if name in target.tensors:
                raise self.fail(f"tensor name {name!r} appears twice", info_at)
            end = target.data_start + offset + n_bytes
            if end > self.size:
                raise self.fail(
                    f"the data of tensor {name!r} ({n_bytes} bytes at data offset {offset}) runs past the "
                    f"end of the file ({self.size} bytes; data starts at byte {target.data_start})",
                    info_at,
                )
            target.tensors[name] = TensorInfo(
                name, dims, ggml_type, offset, target.data_start + offset, n_bytes
            )

    def read_alignment(self) -> None:
        alignment = self.target.metadata.get("general.alignment")
        if alignment is None:
            return
        if self.target.metadata_types["general.alignment"] != (ValueType.UINT32,):
            raise self.fail("general.alignment must be a UINT32")
        if alignment == 0 or alignment & (alignment - 1):
            raise self.fail(f"general.alignment must be a power of two, not {alignment}")
        self.target.alignment = alignment

    def tensor_info(self, index: int) -> tuple[str, tuple[int, ...], GGMLType, int, int, int]:
        info_at = self.position
        name = self.string(f"the name of tensor {index}")
        n_dims = self.u32(f"the dimension count of tensor {name!r}")
        if n_dims > MAX_DIMS:
            raise self.fail(
                f"tensor {name!r} has {n_dims} dimensions (at most {MAX_DIMS})", self.position - 4
            )
        dims = tuple(self.u64(f"dimension {axis} of tensor {name!r}") for axis in range(n_dims))
        n_elements = 1
        for dim in dims:
            n_elements *= dim
        if any(dim > MAX_INT64 for dim in dims) or n_elements > MAX_INT64:
            raise self.fail(f"tensor {name!r} has impossible dimensions {list(dims)}", info_at)
        type_at = self.position
        raw_type = self.u32(f"the type of tensor {name!r}")
        ggml_type = GGML_TYPES.get(raw_type)
        if ggml_type is None:
            raise self.fail(f"tensor {name!r} has unknown ggml type {raw_type}", type_at)
        if dims and dims[0] % ggml_type.block_size:
            raise self.fail(
                f"tensor {name!r}: its first dimension {dims[0]} is not a multiple of the {ggml_type.name} "
                f"block size {ggml_type.block_size}",
                info_at,
            )
        offset_at = self.position
        offset = self.u64(f"the data offset of tensor {name!r}")
        if offset % self.target.alignment:
            raise self.fail(
                f"tensor {name!r}: data offset {offset} is not a multiple of the alignment "
                f"{self.target.alignment}",
                offset_at,
            )
        n_bytes = n_elements // ggml_type.block_size * ggml_type.type_size
        return name, dims, ggml_type, offset, n_bytes, info_at
