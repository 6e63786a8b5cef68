"""§1 Binary & Data Foundations: bits, bytes, words, integers, floats and quantization, built from scratch.

    formats.py    number formats as data (fp32, fp16, bf16, fp8 e4m3/e5m2, intN, qM.N, nf4)
    values.py     what a user may type: exact decimals, inf/nan, raw hex bits
    floats.py     float encode/decode with round-to-nearest-even, subnormals, inf/NaN/saturation
    integers.py   two's complement and round half to even
    fixed.py      Q-format fixed point
    quantize.py   absmax / zero-point INT8 and INT4, per tensor, channel and block
    nf4.py        NF4 code book from normal quantiles, blockwise NF4, double quantization
    machine.py    word size, byte order, alignment
    bitview.py    what `glossa bits` shows;  demo.py: what `glossa quantize` compares

numpy, torch and ml_dtypes check this code in the tests; they do not implement it.
"""
