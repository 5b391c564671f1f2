"""Name restJson operations from the botocore service model (method + path)."""

import re
import threading

_lock = threading.Lock()
_tables = {}


def _table(service):
    with _lock:
        if service in _tables:
            return _tables[service]
        rows = []
        try:
            from botocore.loaders import Loader

            model = Loader().load_service_model(service, "service-2")
        except Exception:  # unknown service: fall back to METHOD /path names
            model = {"operations": {}}
        for name, op in model["operations"].items():
            http = op.get("http", {})
            uri = http.get("requestUri", "/").split("?", 1)[0]
            literal = len(re.sub(r"\{[^}]+\}", "", uri))
            pattern = re.escape(uri)
            pattern = re.sub(r"\\\{[^}]+\\\+\\\}", ".+", pattern)
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern)
            rows.append((literal, http.get("method", "POST"), re.compile(pattern + "/?$"), name))
        rows.sort(key=lambda row: -row[0])
        _tables[service] = rows
        return rows


def operation_for(service, method, path):
    for _, op_method, pattern, name in _table(service):
        if op_method == method and pattern.match(path):
            return name
    return None
