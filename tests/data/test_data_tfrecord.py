"""TFRecord without TensorFlow: CRC32C test vectors, framing round trips, damaged records reported."""

import io

from glossa.data.tfrecord import crc32c, encode_example, frame_record, masked_crc, parse_example, read_records


def test_crc32c_known_vectors():
    # RFC 3720 (iSCSI) appendix B.4 and the usual check value
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(bytes(32)) == 0x8A9136AA
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E
    assert crc32c(bytes(range(31, -1, -1))) == 0x113FDB5C
    assert crc32c(b"") == 0


def test_crc32c_continues_across_pieces():
    assert crc32c(b"6789", crc32c(b"12345")) == crc32c(b"123456789")


def test_masked_crc_of_empty_is_the_mask_delta_rotated():
    assert masked_crc(b"") == 0xA282EAD8


def test_records_round_trip_and_damage_is_reported():
    payloads = [b"first", b"", b"third record" * 10]
    stream = b"".join(frame_record(payload) for payload in payloads)
    assert [record.data for record in read_records(io.BytesIO(stream))] == payloads
    damaged = bytearray(stream)
    damaged[16 + 5 + 16 + 12 + 2] ^= 0xFF  # a byte of the third record's data
    records = list(read_records(io.BytesIO(bytes(damaged))))
    assert [record.data for record in records[:2]] == payloads[:2]
    assert records[2].data is None and "data CRC" in (records[2].error or "")
    truncated = list(read_records(io.BytesIO(stream[:-3])))
    assert truncated[-1].data is None and "truncated" in (truncated[-1].error or "")


def test_example_bytes_features_round_trip():
    features = {"text": [b"Now is the winter of our discontent"], "tags": [b"a", b"b"]}
    assert parse_example(encode_example(features)) == features
