"""Peak memory of the `fast` precision: a fresh process that loads SmolLM2-135M-Instruct from its GGUF and
decodes stays under 400 MiB (transformers needs 1.12 GiB, llama.cpp 235 MiB; importing torch alone is
~220 MiB of it). Measured as the process's own high-water mark (VmHWM), so fragmentation and temporaries
during loading count, not only what is kept."""

import subprocess
import sys

PEAK_LIMIT_MIB = 400
WORKER = """
import torch
torch.set_num_threads(1)
from glossa.infer.fast_decode import greedy_generate
from glossa.infer.quantized import load_fast_model
greedy_generate(load_fast_model("smollm2"), list(range(100, 140)), 8)
status = open("/proc/self/status").read().splitlines()
print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024)
"""


def test_fast_load_and_decode_peak_memory_stays_under_400_mib() -> None:
    result = subprocess.run([sys.executable, "-c", WORKER], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    peak_mib = float(result.stdout.strip().splitlines()[-1])
    assert peak_mib <= PEAK_LIMIT_MIB, f"peak RSS {peak_mib:.0f} MiB"


def test_released_gguf_tensor_pages_read_back_the_same_bytes() -> None:
    """`GGUFFile.release` only drops pages from this process's resident set; the bytes stay readable."""
    from glossa.artifacts import smollm2_gguf
    from glossa.formats.gguf import read_gguf

    with read_gguf(smollm2_gguf()) as gguf:
        before = gguf.tensor_bytes("blk.3.ffn_up.weight").copy()
        gguf.release("blk.3.ffn_up.weight")
        gguf.release("no such tensor")  # ignored
        assert (gguf.tensor_bytes("blk.3.ffn_up.weight") == before).all()
