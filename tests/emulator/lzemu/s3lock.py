"""S3 as lzctl's apply lock and trail reader uses it.

moto 5.2.5 already honours the conditions lzctl's lock relies on (checked in its
``s3/responses.py``): PutObject with ``If-None-Match: *`` fails with 412
``PreconditionFailed`` when the key exists, PutObject and DeleteObject with
``If-Match: <etag>`` fail with 412 when the object changed (and 404 ``NoSuchKey``
when it is gone). What moto does not do is make the check and the write one
step: it looks the key up, then stores. The emulator makes them atomic by
holding one lock per bucket (``s3:bucket:<name>``) around every S3 request that
names a bucket, whichever account calls, so two conditional writes of one key
never both succeed. (AWS may also answer 409 ``ConditionalRequestConflict`` to
a write that races another in flight; the emulator serializes instead, so it
always answers 412 or 404. A test that needs the 409 schedules it with
``/_lzemu/fail-next`` on ``s3:PUT /<bucket>/<key>`` or ``s3:DELETE ...``: the
answer has status 409, its body in the emulator's JSON error format rather
than S3's XML, so a client should go by the status, as lzctl does.)
"""

import re

_IP_OR_LOCAL = re.compile(r"^(\d{1,3}(\.\d{1,3}){3}|localhost|\[[0-9a-f:]+\])(:\d+)?$", re.I)


def bucket_of(environ):
    """The bucket an S3 request names: the first label of a virtual-hosted
    host name, else the first path segment; None for ListBuckets."""
    host = environ.get("HTTP_HOST", "")
    if host and not _IP_OR_LOCAL.match(host) and ".s3" in host:
        return host.split(".", 1)[0] or None
    segment = environ.get("PATH_INFO", "/").lstrip("/").split("/", 1)[0]
    return segment or None


def domains(ctx):
    """The lock domains of an S3 request: the caller's moto backend and the bucket."""
    out = [f"moto:s3:{ctx.account}"]
    bucket = bucket_of(ctx.environ)
    if bucket:
        out.append(f"s3:bucket:{bucket}")
    return out
