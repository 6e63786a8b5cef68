"""BERT's basic tokenizer: each rule by hand, then every stable code point against HF `tokenizers`."""

from __future__ import annotations

import unicodedata

import pytest
from tokenizers import normalizers, pre_tokenizers

from glossa.tokenizers.bert_normalize import BertNormalizer


def test_clean_text_drops_controls_and_turns_whitespace_into_spaces():
    normalizer = BertNormalizer(lowercase=False)
    assert normalizer.normalize("a\x00b\ufffdc\x07d\u200de") == "abcde"
    assert normalizer.normalize("a\tb\nc\rd\u3000e\u00a0f") == "a b c d e f"
    assert BertNormalizer(clean_text=False, lowercase=False).normalize("a\x00b") == "a\x00b"


def test_cjk_ideographs_become_words_but_kana_and_hangul_do_not():
    normalizer = BertNormalizer(lowercase=False)
    assert normalizer.split_words("中文字ab") == ["中", "文", "字", "ab"]
    assert normalizer.split_words("ひらがな한국어") == ["ひらがな한국어"]
    # lower-casing strips accents: NFD splits が into か + a combining mark, and 한 into jamo
    assert BertNormalizer().split_words("が한") == ["か" + unicodedata.normalize("NFD", "한")]
    assert BertNormalizer(handle_chinese_chars=False).split_words("中文") == ["中文"]


def test_accents_follow_lowercase_unless_set():
    assert BertNormalizer().normalize("Café NAÏVE") == "cafe naive"
    assert BertNormalizer(lowercase=False).normalize("Café") == "Café"
    assert BertNormalizer(strip_accents=False).normalize("Café") == "café"
    assert BertNormalizer(strip_accents=True, lowercase=False).normalize("Café") == "Cafe"


def test_lowercase_is_per_code_point_so_final_sigma_stays_sigma():
    assert BertNormalizer().normalize("ΟΔΟΣ") == "οδοσ"


def test_punctuation_is_unicode_p_plus_all_ascii_symbols():
    words = BertNormalizer().split_words("$5+3=8, «ok»… a_b ~x")
    assert words == ["$", "5", "+", "3", "=", "8", ",", "«", "ok", "»", "…", "a", "_", "b", "~", "x"]


def test_whitespace_runs_vanish():
    assert BertNormalizer().split_words(" \t\n  a  \n\n b \u2003") == ["a", "b"]
    assert BertNormalizer().split_words("") == []


CONFIGURATIONS = [
    (True, True, None, True),
    (False, False, False, False),
    (True, False, True, False),
    (False, True, False, True),
]


@pytest.fixture(scope="module")
def stable_code_points() -> list[int]:
    """Code points assigned in Unicode 3.2 whose category has not changed since.

    HF's Rust crates carry older Unicode tables than Python's, so characters assigned or re-categorised
    recently (about 750 of them) are normalised differently there; everything else must agree."""
    old = unicodedata.ucd_3_2_0
    return [
        code
        for code in range(0x110000)
        if not 0xD800 <= code <= 0xDFFF
        and old.category(chr(code)) != "Cn"
        and old.category(chr(code)) == unicodedata.category(chr(code))
    ]


@pytest.mark.parametrize("configuration", CONFIGURATIONS)
def test_every_stable_code_point_matches_hf(configuration, stable_code_points):
    clean_text, handle_chinese_chars, strip_accents, lowercase = configuration
    hf_normalizer = normalizers.BertNormalizer(
        clean_text=clean_text,
        handle_chinese_chars=handle_chinese_chars,
        strip_accents=strip_accents,
        lowercase=lowercase,
    )
    hf_pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    ours = BertNormalizer(*configuration)
    for first in range(0, len(stable_code_points), 2000):
        text = "".join("a" + chr(code) for code in stable_code_points[first : first + 2000]) + "a"
        expected = hf_normalizer.normalize_str(text)
        assert ours.normalize(text) == expected
        assert ours.pre_tokenize(expected) == [
            word for word, _ in hf_pre_tokenizer.pre_tokenize_str(expected)
        ]


def test_greek_sigma_and_turkish_dotted_i_match_hf():
    hf = normalizers.BertNormalizer(lowercase=True)
    for text in ("ΟΔΟΣ ΣΑΣ Σ", "İstanbul IŞIK", "ǅemal ﬁne ß"):
        assert BertNormalizer().normalize(text) == hf.normalize_str(text)
