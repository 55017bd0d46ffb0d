"""Avro's binary encoding of a long (zigzag, then base-128 varint), for
tests that write container blocks by hand."""


def avro_long(n: int) -> bytes:
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    return bytes(out) + bytes([n])
