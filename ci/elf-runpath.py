#!/usr/bin/env python3
"""Shortens the RUNPATH (or RPATH) of a 64-bit little-endian ELF file in place.

    python3 ci/elf-runpath.py FILE NEW

NEW must be no longer than the current value: it is written over the old string in
.dynstr and the rest is filled with NUL bytes, so nothing else in the file moves (what
`patchelf --set-rpath` does for a shorter path, without needing patchelf). Used by
ci/deb-loaders.sh to drop the build machine's directories from a packaged loader's runpath,
keeping only `$ORIGIN`. Prints the old and the new value; exits 1 when the file has no
runpath or NEW does not fit.
"""
import struct
import sys

SHT_DYNAMIC = 6
DT_NULL, DT_RPATH, DT_RUNPATH = 0, 15, 29


def sections(data):
    """(type, offset, size, link) of each section header."""
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    for i in range(shnum):
        base = shoff + i * shentsize
        sh_type, = struct.unpack_from("<I", data, base + 4)
        sh_offset, sh_size = struct.unpack_from("<QQ", data, base + 0x18)
        sh_link, = struct.unpack_from("<I", data, base + 0x28)
        yield sh_type, sh_offset, sh_size, sh_link


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    path, new = sys.argv[1], sys.argv[2].encode()
    with open(path, "rb") as f:
        data = bytearray(f.read())
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        sys.exit(f"{path}: not a 64-bit little-endian ELF file")
    headers = list(sections(data))
    dynamic = [h for h in headers if h[0] == SHT_DYNAMIC]
    if not dynamic:
        sys.exit(f"{path}: no dynamic section")
    _, dyn_off, dyn_size, dynstr_index = dynamic[0]
    dynstr_off = headers[dynstr_index][1]
    changed = False
    for pos in range(dyn_off, dyn_off + dyn_size, 16):
        tag, val = struct.unpack_from("<qQ", data, pos)
        if tag == DT_NULL:
            break
        if tag not in (DT_RPATH, DT_RUNPATH):
            continue
        start = dynstr_off + val
        end = data.index(b"\0", start)
        old = bytes(data[start:end])
        if len(new) > len(old):
            sys.exit(f"{path}: {new.decode()!r} is longer than the runpath {old.decode()!r}")
        data[start:end] = new + b"\0" * (len(old) - len(new))
        print(f"{path}: runpath {old.decode()!r} -> {new.decode()!r}")
        changed = True
    if not changed:
        sys.exit(f"{path}: no RUNPATH or RPATH")
    with open(path, "r+b") as f:
        f.write(data)


if __name__ == "__main__":
    main()
