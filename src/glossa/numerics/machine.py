"""What this machine's words look like: word size, byte order, and how types are aligned in memory.

A "word" is the width the CPU handles natively; on 64-bit machines pointers are 8 bytes, `sys.maxsize` is
2^63 - 1 and a C `long` is usually 8 bytes (4 on Windows). Types are aligned to a multiple of their natural
size so one load reads them (an 8-byte double sits at an address divisible by 8); tensor libraries align
whole buffers more strictly, e.g. torch's CPU allocator to 64 bytes, a cache line and an AVX-512 register.
Everything here is measured on the running interpreter, nothing is assumed.
"""

import ctypes
import platform
import struct
import sys
from dataclasses import dataclass

import numpy as np

C_TYPES = (
    "c_bool",
    "c_char",
    "c_short",
    "c_int",
    "c_long",
    "c_longlong",
    "c_float",
    "c_double",
    "c_longdouble",
    "c_void_p",
)
NUMPY_TYPES = ("int8", "int16", "int32", "int64", "float16", "float32", "float64", "complex128")
TORCH_TYPES = ("float32", "float16", "bfloat16", "float8_e4m3fn", "int8", "int64")
PAGE_SIZE = 4096


@dataclass(frozen=True)
class TypeLayout:
    library: str
    name: str
    size_bytes: int
    alignment_bytes: int | None  # None where the library does not expose one


@dataclass(frozen=True)
class MachineReport:
    machine: str  # platform.machine(), e.g. x86_64 or arm64
    pointer_bits: int
    max_size: int  # sys.maxsize: the largest container index, 2^(word bits - 1) - 1
    byte_order: str
    layouts: list[TypeLayout]
    torch_data_pointer: int
    torch_data_alignment: int  # the largest power of two (up to a page) dividing that pointer


def address_alignment(address: int, cap: int = PAGE_SIZE) -> int:
    """The largest power of two, at most `cap`, that divides `address` (its lowest set bit)."""
    return min(address & -address, cap) if address else cap


def machine_report() -> MachineReport:
    import torch  # deferred: a second to import, and only this report needs it

    layouts = [
        TypeLayout(
            "ctypes", name, ctypes.sizeof(getattr(ctypes, name)), ctypes.alignment(getattr(ctypes, name))
        )
        for name in C_TYPES
    ]
    layouts += [
        TypeLayout("numpy", name, np.dtype(name).itemsize, np.dtype(name).alignment) for name in NUMPY_TYPES
    ]
    layouts += [TypeLayout("torch", name, getattr(torch, name).itemsize, None) for name in TORCH_TYPES]
    # Several fresh buffers of odd sizes, so one lucky address does not overstate the guarantee.
    pointers = [torch.empty(size, dtype=torch.uint8).data_ptr() for size in (1, 3, 100, 1000, 4097)]
    weakest = min(pointers, key=address_alignment)
    return MachineReport(
        machine=platform.machine(),
        pointer_bits=struct.calcsize("P") * 8,
        max_size=sys.maxsize,
        byte_order=sys.byteorder,
        layouts=layouts,
        torch_data_pointer=weakest,
        torch_data_alignment=address_alignment(weakest),
    )
