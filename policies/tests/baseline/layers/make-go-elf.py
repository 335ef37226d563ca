#!/usr/bin/env python3
"""Writes the tiny stand-ins for Go binaries that the layers here carry.

Each is an ELF64 header with no program or section headers, followed by
inline Go 1.18+ build information and whatever the rule under test looks
for (the `UPX!` magic, a function name as the pclntab stores it). The
scanner finds the build information by its magic, as it does in binaries
whose section headers a packer removed. Run from this directory:
    python3 make-go-elf.py
"""
import os
import struct

HEADER = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8 + struct.pack(
    "<HHIQQQIHHHHHH", 2, 62, 1, 0x400000, 0, 0, 0, 64, 56, 0, 64, 0, 0
)
SENTINEL1 = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
SENTINEL2 = bytes.fromhex("f932433186182072008242104116d8f2")


def uvarint_prefixed(b: bytes) -> bytes:
    n, out = len(b), b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n]) + b


def go_elf(module: str, modified: bool, extra: bytes) -> bytes:
    mod = (
        f"path\t{module}\nmod\t{module}\t(devel)\t\n"
        "build\tCGO_ENABLED=0\nbuild\t-trimpath=true\nbuild\tGOOS=linux\nbuild\tGOARCH=amd64\n"
        "build\tvcs=git\nbuild\tvcs.revision=5c3b2ebf66ba17cbc911b19a6cf13dff81d9e653\n"
        f"build\tvcs.modified={'true' if modified else 'false'}\n"
    ).encode()
    info = b"\xff Go buildinf:" + bytes([8, 2]) + b"\0" * 16
    info += uvarint_prefixed(b"go1.27.3") + uvarint_prefixed(SENTINEL1 + mod + SENTINEL2)
    return HEADER + extra + info


def write(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o755)


# UPX-packed (GO-BIN-006) and built from a dirty tree (GO-BIN-007).
write("leftovers/usr/local/bin/packed", go_elf("example.com/packed", True, b"UPX!" + b"\0" * 12))
# Calls time.LoadLocation with no zoneinfo and no embedded tzdata (GO-FS-006).
write("no-tzdata/usr/local/bin/clock", go_elf("example.com/clock", False, b"\0time.LoadLocation\0"))
