"""The AWS query protocol on the wire: flattened request parameters in, XML out."""

import re
import uuid
from datetime import datetime, timezone
from xml.sax.saxutils import escape


def unflatten(params):
    """{"A.member.1.B": "x", "C": "y"} -> {"A": [{"B": "x"}], "C": "y"}."""
    root = {}
    for key, value in params.items():
        node = root
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[parts[-1]] = value
    return _lists(root)


def _lists(node):
    if not isinstance(node, dict):
        return node
    if set(node) == {"member"} and isinstance(node["member"], dict):
        items = sorted(node["member"].items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0)
        return [_lists(v) for _, v in items]
    if node and all(re.fullmatch(r"entry", k) for k in node):
        entries = node["entry"]
        return {_lists(e).get("key"): _lists(e).get("value") for e in entries.values()}
    return {k: _lists(v) for k, v in node.items()}


def _timestamp(value):
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, tz=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _xml(name, value):
    if value is None:
        return ""
    if isinstance(value, dict):
        return f"<{name}>" + "".join(_xml(k, v) for k, v in value.items()) + f"</{name}>"
    if isinstance(value, list):
        return f"<{name}>" + "".join(_xml("member", v) for v in value) + f"</{name}>"
    if isinstance(value, bool):
        return f"<{name}>{'true' if value else 'false'}</{name}>"
    if isinstance(value, datetime):
        return f"<{name}>{_timestamp(value)}</{name}>"
    return f"<{name}>{escape(str(value))}</{name}>"


class Timestamp(float):
    """A float of epoch seconds that serialises as an ISO 8601 timestamp."""


def _prepare(value):
    if isinstance(value, Timestamp):
        return datetime.fromtimestamp(float(value), tz=timezone.utc)
    if isinstance(value, dict):
        return {k: _prepare(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_prepare(v) for v in value]
    return value


def response(operation, result, namespace):
    """A complete query-protocol response body for ``operation``."""
    body = "".join(_xml(k, v) for k, v in _prepare(result).items())
    return (
        f'<{operation}Response xmlns="{namespace}">'
        f"<{operation}Result>{body}</{operation}Result>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        f"</{operation}Response>"
    ).encode()
