"""Model arithmetic: parameters by component, FLOPs per token, KV-cache bytes, scale categories."""

import pytest

from glossa.models.describe import describe, scale_category
from glossa.models.presets import preset


def test_smollm2_components_by_hand():
    report = describe(preset("smollm2-135m"))
    d, kv, ff, layers = 576, 3 * 64, 1536, 30
    assert report.parameters["embeddings"] == 49152 * d
    assert report.parameters["attention"] == layers * (2 * d * d + 2 * d * kv)
    assert report.parameters["ffn"] == layers * 3 * d * ff
    assert report.parameters["norms"] == (2 * layers + 1) * d
    assert report.parameters["head"] == 0  # tied: the head is the embedding matrix
    assert report.total == report.active == 134_515_008
    assert report.scale == "small"


def test_flops_follow_the_kaplan_formula():
    report = describe(preset("smollm2-135m"), context=1024)
    n = report.matmul_parameters
    assert n == 134_515_008  # every non-embedding weight, plus the (tied) output projection
    attention = 2 * 30 * 1024 * 9 * 64
    assert report.flops_forward == 2 * n + attention
    assert report.flops_train == 6 * n + 3 * attention


def test_kv_cache_bytes_per_token():
    report = describe(preset("smollm2-135m"))
    numbers = 2 * 30 * 3 * 64  # K and V, per layer, per KV head, per head dimension
    assert report.kv_cache_bytes == {
        "fp32": 4 * numbers,
        "fp16": 2 * numbers,
        "bf16": 2 * numbers,
        "int8": numbers,
    }
    full_heads = describe(preset("smollm2-135m", n_kv_heads=9))
    assert full_heads.kv_cache_bytes["fp16"] == 3 * report.kv_cache_bytes["fp16"]  # GQA saves 9/3
    assert describe(preset("minilm-l6")).kv_cache_bytes["fp32"] == 0  # encoders keep no cache


def test_moe_active_parameters():
    report = describe(preset("moe-tiny"))
    per_expert = report.parameters["experts"] // (2 * 4)
    assert report.active == report.total - 2 * (4 - 2) * per_expert  # 2 of 4 experts per layer
    assert report.parameters["router"] == 2 * 64 * 4


def test_untied_and_masked_lm_heads():
    gpt2 = describe(preset("gpt2-small"))
    assert gpt2.parameters["positions"] == 1024 * 768
    assert (
        gpt2.matmul_parameters
        == gpt2.total - gpt2.parameters["embeddings"] - gpt2.parameters["positions"] + 50257 * 768
    )
    bert = describe(preset("bert-base"))
    assert (
        bert.parameters["head"] == 768 * 768 + 768 + 30522
    )  # the transform and the vocabulary bias (its norm: norms)


@pytest.mark.parametrize(
    ("parameters", "category"),
    [
        (135e6, "small"),
        (1e9 - 1, "small"),
        (1e9, "medium"),
        (7e9, "medium"),
        (70e9, "large"),
        (1e11, "foundation"),
    ],
)
def test_scale_categories(parameters, category):
    assert scale_category(int(parameters)) == category
