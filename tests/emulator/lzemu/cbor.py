"""Minimal CBOR (RFC 8949) for the Smithy RPC v2 CBOR protocol.

Decodes what AWS SDKs send (maps, arrays, text/byte strings, integers, floats,
booleans, null, tag 1 timestamps, definite and indefinite lengths) and encodes
answers. ``Timestamp`` values (epoch seconds) are written as tag 1.
"""

import struct


class Timestamp(float):
    """Epoch seconds written as CBOR tag 1 (and as a number in JSON)."""


class CBORError(ValueError):
    pass


# ------------------------------------------------------------------ decoding
def decode(data):
    if not data:
        return {}
    value, offset = _item(memoryview(data), 0)
    if offset != len(data):
        raise CBORError("trailing bytes after the CBOR item")
    return value


def _argument(data, offset, info):
    if info < 24:
        return info, offset
    size = {24: 1, 25: 2, 26: 4, 27: 8}.get(info)
    if size is None:
        raise CBORError(f"unsupported additional information {info}")
    return int.from_bytes(data[offset:offset + size], "big"), offset + size


_BREAK = object()


def _item(data, offset):
    if offset >= len(data):
        raise CBORError("truncated CBOR")
    initial = data[offset]
    offset += 1
    major, info = initial >> 5, initial & 0x1F
    if major == 7:
        if info == 20:
            return False, offset
        if info == 21:
            return True, offset
        if info in (22, 23):
            return None, offset
        if info == 25:
            return _half(bytes(data[offset:offset + 2])), offset + 2
        if info == 26:
            return struct.unpack(">f", data[offset:offset + 4])[0], offset + 4
        if info == 27:
            return struct.unpack(">d", data[offset:offset + 8])[0], offset + 8
        if info == 31:
            return _BREAK, offset
        raise CBORError(f"unsupported simple value {info}")
    if info == 31:  # indefinite length
        if major in (2, 3):
            chunks = []
            while True:
                chunk, offset = _item(data, offset)
                if chunk is _BREAK:
                    return (b"".join(chunks) if major == 2 else "".join(chunks)), offset
                chunks.append(chunk)
        if major == 4:
            items = []
            while True:
                value, offset = _item(data, offset)
                if value is _BREAK:
                    return items, offset
                items.append(value)
        if major == 5:
            out = {}
            while True:
                key, offset = _item(data, offset)
                if key is _BREAK:
                    return out, offset
                out[key], offset = _item(data, offset)
        raise CBORError("indefinite length for a major type that has none")
    arg, offset = _argument(data, offset, info)
    if major == 0:
        return arg, offset
    if major == 1:
        return -1 - arg, offset
    if major == 2:
        return bytes(data[offset:offset + arg]), offset + arg
    if major == 3:
        return bytes(data[offset:offset + arg]).decode("utf-8"), offset + arg
    if major == 4:
        items = []
        for _ in range(arg):
            value, offset = _item(data, offset)
            items.append(value)
        return items, offset
    if major == 5:
        out = {}
        for _ in range(arg):
            key, offset = _item(data, offset)
            out[key], offset = _item(data, offset)
        return out, offset
    # major 6: a tag; tag 1 (epoch time) becomes a float, others their content
    value, offset = _item(data, offset)
    return (float(value) if arg == 1 else value), offset


def _half(raw):
    bits = int.from_bytes(raw, "big")
    sign = -1.0 if bits & 0x8000 else 1.0
    exponent = (bits >> 10) & 0x1F
    fraction = bits & 0x3FF
    if exponent == 0:
        return sign * fraction * 2.0 ** -24
    if exponent == 31:
        return sign * float("inf") if not fraction else float("nan")
    return sign * (1 + fraction / 1024.0) * 2.0 ** (exponent - 15)


# ------------------------------------------------------------------ encoding
def encode(value):
    out = bytearray()
    _encode(out, value)
    return bytes(out)


def _head(out, major, arg):
    if arg < 24:
        out.append((major << 5) | arg)
    elif arg < 0x100:
        out += bytes(((major << 5) | 24, arg))
    elif arg < 0x10000:
        out.append((major << 5) | 25)
        out += arg.to_bytes(2, "big")
    elif arg < 0x100000000:
        out.append((major << 5) | 26)
        out += arg.to_bytes(4, "big")
    else:
        out.append((major << 5) | 27)
        out += arg.to_bytes(8, "big")


def _encode(out, value):
    if value is None:
        out.append(0xF6)
    elif value is True:
        out.append(0xF5)
    elif value is False:
        out.append(0xF4)
    elif isinstance(value, Timestamp):
        _head(out, 6, 1)
        out.append(0xFB)
        out += struct.pack(">d", float(value))
    elif isinstance(value, int):
        if value >= 0:
            _head(out, 0, value)
        else:
            _head(out, 1, -1 - value)
    elif isinstance(value, float):
        out.append(0xFB)
        out += struct.pack(">d", value)
    elif isinstance(value, bytes):
        _head(out, 2, len(value))
        out += value
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        _head(out, 3, len(raw))
        out += raw
    elif isinstance(value, (list, tuple)):
        _head(out, 4, len(value))
        for item in value:
            _encode(out, item)
    elif isinstance(value, dict):
        _head(out, 5, len(value))
        for key, item in value.items():
            _encode(out, str(key))
            _encode(out, item)
    else:
        _encode(out, str(value))
