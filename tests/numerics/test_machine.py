"""The machine report states what the interpreter, ctypes, numpy and torch say, and nothing invented."""

import ctypes
import platform
import sys

import numpy as np

from glossa.numerics.machine import address_alignment, machine_report


def test_machine_report_matches_the_interpreter() -> None:
    report = machine_report()
    assert report.machine == platform.machine()
    assert report.pointer_bits == 8 * ctypes.sizeof(ctypes.c_void_p)
    assert report.max_size == sys.maxsize == 2 ** (report.pointer_bits - 1) - 1
    assert report.byte_order == sys.byteorder
    layouts = {(layout.library, layout.name): layout for layout in report.layouts}
    assert layouts["ctypes", "c_double"].alignment_bytes == ctypes.alignment(ctypes.c_double)
    assert layouts["ctypes", "c_void_p"].size_bytes == report.pointer_bits // 8
    assert layouts["numpy", "float64"].alignment_bytes == np.dtype(np.float64).alignment
    assert layouts["torch", "bfloat16"].size_bytes == 2
    assert report.torch_data_pointer % report.torch_data_alignment == 0
    assert report.torch_data_alignment >= 16  # torch's CPU allocator promises 64; malloc alone promises 16


def test_address_alignment_is_the_lowest_set_bit() -> None:
    assert address_alignment(0x1000) == 4096
    assert address_alignment(0x1040) == 64
    assert address_alignment(0x1041) == 1
    assert address_alignment(1 << 40) == 4096  # capped at a page
