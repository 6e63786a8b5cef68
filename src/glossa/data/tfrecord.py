"""TFRecord files without TensorFlow: the framing, CRC32C, and just enough protobuf to read tf.train.Example.

A TFRecord file is a run of records, each framed as

    length             u64 little-endian
    masked_crc(length) u32   CRC32C of those 8 bytes, masked
    data               `length` bytes (usually a serialized tf.train.Example)
    masked_crc(data)   u32

CRC32C is the Castagnoli polynomial (reflected 0x82F63B78), not zlib's CRC-32; the mask
`((crc >> 15) | (crc << 17)) + 0xA282EAD8` keeps a CRC of data that itself holds CRCs from looking like one.
The CRC is table-driven, one byte at a time in Python (~10 MB/s): fine for reading datasets of modest size;
a damaged length CRC means the framing is lost, so the rest of the file is reported as one bad record.

`parse_example` walks the protobuf wire format of Example → Features → map<string, Feature> → BytesList and
returns the bytes features; float and int64 lists are skipped. `encode_example` writes the same subset (for
tests and for round trips).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

_POLY = 0x82F63B78
_MASK_DELTA = 0xA282EAD8


def _table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _table()


def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC-32C (Castagnoli) of `data`, continuing from `crc`."""
    crc ^= 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


@dataclass(frozen=True)
class RawRecord:
    index: int  # 0-based record number in the file
    offset: int  # byte offset of the record's length field
    data: bytes | None  # None when the record is damaged
    error: str | None = None


def read_records(file: BinaryIO) -> Iterator[RawRecord]:
    """Every record of a TFRecord stream, each checked against its CRCs; damage is reported, not raised."""
    index = offset = 0
    while True:
        header = file.read(12)
        if not header:
            return
        if len(header) < 12:
            yield RawRecord(index, offset, None, f"truncated record header ({len(header)} of 12 bytes)")
            return
        length_bytes, length_crc = header[:8], struct.unpack("<I", header[8:])[0]
        if masked_crc(length_bytes) != length_crc:
            yield RawRecord(index, offset, None, "length CRC mismatch: framing lost, rest of file skipped")
            return
        (length,) = struct.unpack("<Q", length_bytes)
        data = file.read(length)
        footer = file.read(4)
        if len(data) < length or len(footer) < 4:
            yield RawRecord(index, offset, None, f"truncated record (length {length})")
            return
        if masked_crc(data) != struct.unpack("<I", footer)[0]:
            yield RawRecord(index, offset, None, "data CRC mismatch")
        else:
            yield RawRecord(index, offset, data)
        index += 1
        offset += 16 + length


def frame_record(data: bytes) -> bytes:
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc(length)) + data + struct.pack("<I", masked_crc(data))


# -- protobuf, the subset tf.train.Example needs -----------------------------------------------------------


class ProtobufError(ValueError):
    pass


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise ProtobufError("truncated varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, position


def _fields(data: bytes) -> Iterator[tuple[int, int, bytes | int]]:
    """(field number, wire type, value) for each field; length-delimited values as bytes."""
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(data, position)
            yield number, wire, value
        elif wire == 2:
            length, position = _varint(data, position)
            if position + length > len(data):
                raise ProtobufError("length-delimited field runs past the end")
            yield number, wire, data[position : position + length]
            position += length
        elif wire in (1, 5):
            position += 8 if wire == 1 else 4
            if position > len(data):
                raise ProtobufError("fixed-width field runs past the end")
        else:
            raise ProtobufError(f"unsupported wire type {wire}")


def parse_example(data: bytes) -> dict[str, list[bytes]]:
    """The bytes features of a serialized tf.train.Example: {name: [value, ...]}."""
    features: dict[str, list[bytes]] = {}
    for number, wire, features_message in _fields(data):
        if number != 1 or wire != 2:
            continue
        assert isinstance(features_message, bytes)
        for entry_number, entry_wire, entry in _fields(features_message):
            if entry_number != 1 or entry_wire != 2:
                continue
            assert isinstance(entry, bytes)
            name, feature = "", b""
            for part_number, _, part in _fields(entry):
                if part_number == 1 and isinstance(part, bytes):
                    name = part.decode("utf-8", "replace")
                elif part_number == 2 and isinstance(part, bytes):
                    feature = part
            values = []
            for kind, _, bytes_list in _fields(feature):
                if kind == 1 and isinstance(bytes_list, bytes):
                    values += [
                        value for n, _, value in _fields(bytes_list) if n == 1 and isinstance(value, bytes)
                    ]
            features[name] = values
    return features


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | 2) + _encode_varint(len(payload)) + payload


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def encode_example(features: dict[str, list[bytes]]) -> bytes:
    """A serialized tf.train.Example holding bytes features only."""
    entries = b""
    for name, values in features.items():
        bytes_list = b"".join(_length_delimited(1, value) for value in values)
        feature = _length_delimited(1, bytes_list)
        entries += _length_delimited(1, _length_delimited(1, name.encode()) + _length_delimited(2, feature))
    return _length_delimited(1, entries)
