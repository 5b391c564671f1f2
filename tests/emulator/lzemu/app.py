"""The WSGI application: moto's server app wrapped with the emulator's layers.

Per AWS request: identify it, sleep the configured latency, draw random faults,
apply the token bucket, let the service handlers check or answer it, forward the
rest to moto in-process, let the handlers post-process, and log it.
"""

import io
import json
import re
import socket
import sys
import time
import traceback

from . import errors, motoseam, request
from .clock import Clock
from .errors import AwsError
from .locks import Domains, rank
from .log import EventLog
from .ratelimit import FaultInjector, InProgressLimiter, RateLimiter

_XML_CODE = re.compile(rb"<Code>([^<]+)</Code>")
# Mutations by these services while Control Tower is busy are violations.
BUSY_SENSITIVE = ("organizations", "cloudformation", "controltower")


class Context:
    """One request as the handlers see it."""

    def __init__(self, emulator, info, account, environ, body):
        self.emulator = emulator
        self.info = info
        self.account = account
        self.environ = environ
        self.body = body

    @property
    def params(self):
        return self.info.params

    @property
    def operation(self):
        return self.info.operation


class Emulator:
    def __init__(self, settings):
        self.settings = settings
        self.clock = Clock()
        self.log = EventLog(self.clock)
        self.limiter = RateLimiter(self.clock.now)
        self.in_progress = InProgressLimiter()
        self.faults = FaultInjector()
        self.locks = Domains()
        self._warned = set()
        self.moto_app = motoseam.wsgi_app()
        motoseam.install_clock(self.clock)
        # Handlers are imported here, their moto backends only on first use.
        from .accountmgmt import AccountManagement
        from .controltower import ControlTower
        from .detective import DetectiveServices
        from .organizations import OrganizationsRules
        from .servicecatalog import ServiceCatalog
        from .stacksets import StackSets

        self.organizations = OrganizationsRules(self)
        self.controltower = ControlTower(self)
        self.stacksets = StackSets(self)
        self.detective = DetectiveServices(self)
        self.servicecatalog = ServiceCatalog(self)
        self.accountmgmt = AccountManagement(self)
        self.handlers = {
            "account": self.accountmgmt,
            "servicecatalog": self.servicecatalog,
            "organizations": self.organizations,
            "controltower": self.controltower,
            "cloudformation": self.stacksets,
            "guardduty": self.detective,
            "securityhub": self.detective,
            "config": self.detective,
            "cloudtrail": self.detective,
        }

    # ----------------------------------------------------------------- WSGI
    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_lzemu/"):
            from .control import handle_control

            if path.rstrip("/") == "/_lzemu/reset":
                status, payload = handle_control(self, environ)  # takes the world lock itself
            else:
                with self.locks.world.shared():
                    status, payload = handle_control(self, environ)
            return self._respond(
                start_response, status, [("Content-Type", "application/json")],
                json.dumps(payload).encode(),
            )
        if path.startswith("/moto-api"):
            with self.locks.world.exclusive():
                return self.moto_app(environ, start_response)

        body = self._read_body(environ)
        info = request.describe(environ, body, self.controltower.operation_for_path)
        account = self.account_for(info)
        ctx = Context(self, info, account, environ, body)
        with self.locks.world.shared():
            status, headers, out, entry = self._handle(ctx)
        if entry["fault"] == "connection-closed" and self._drop_connection(environ):
            raise ConnectionAbortedError("lzemu: connection closed by fail-next")
        headers = list(headers) + [("x-lzemu-seq", str(entry["seq"]))]
        return self._respond(start_response, status, headers, out)

    # ------------------------------------------------------------ internals
    def domains(self, ctx):
        """The lock domains a request holds while it is handled (see locks.py).
        Holding Organizations means pending accounts may complete, which can start
        auto-deployments and enrollments: when the request also holds a lock ranked
        above those, they are taken up front (locks are only ever taken upwards)."""
        domains = self._domains(ctx)
        if "organizations" in domains and any(rank(d) > rank("stacksets") for d in domains):
            domains = domains + ["controltower", "stacksets"]
        return domains

    def _domains(self, ctx):
        info = ctx.info
        service, op = info.service, info.operation
        if service == "account":
            return ["organizations"]
        if service == "organizations":
            if op == "CreateAccount":  # moto writes IAM; auto-deployment / enrollment follow
                return ["organizations", "controltower", "stacksets", "moto:iam"]
            return ["organizations"]
        if service == "controltower":
            return ["organizations", "controltower"] if info.mutating else ["controltower"]
        if service == "servicecatalog":  # Account Factory creates, moves and enrolls accounts
            if info.mutating:
                return ["organizations", "controltower", "servicecatalog", "stacksets", "moto:iam"]
            return ["controltower", "servicecatalog"]
        if service == "cloudformation":
            if op in self.stacksets.OPERATIONS:
                return ["stacksets"]
            return [f"moto:cloudformation:{ctx.account}"]
        if service in ("guardduty", "securityhub", "config", "cloudtrail"):
            domains = ["detective", f"moto:{service}:{ctx.account}"]
            if service in ("config", "cloudtrail"):  # Control Tower's trail and Config setup
                domains.insert(0, "controltower")
            if op in ("EnableOrganizationAdminAccount", "DisableOrganizationAdminAccount"):
                domains.append("organizations")
            return domains
        if service in ("iam", "sts"):
            return ["moto:iam"]
        if service == "s3":  # conditional writes must be atomic per bucket (s3lock.py)
            from .s3lock import domains

            return domains(ctx)
        return [f"moto:{service}:{ctx.account}"]

    def _unclassified(self, info, seq):
        """Loud: a violation every time, a warning on stderr the first time."""
        self.log.violation("unclassified_operation",
                           f"{info.key}: {info.classification[1]}; treated as mutating", seq)
        if info.key not in self._warned:
            self._warned.add(info.key)
            print(f"lzemu: WARNING: cannot classify {info.key} as read or mutating "
                  f"({info.classification[1]}); treating it as mutating", file=sys.stderr, flush=True)

    def _record(self, ctx, status, headers, out, ct_busy, fault):
        """Log one request (and its violations). Called with the request's domain
        locks held, so per domain the log's order is the order of the changes."""
        info = ctx.info
        entry = self.log.record(ctx.account, info.service, info.operation, info.mutating,
                                status, self._error_code(status, headers, out), ct_busy,
                                info.classification[0], fault)
        if info.classification[0] == "unknown":
            self._unclassified(info, entry["seq"])
        if ct_busy and info.mutating and info.service in BUSY_SENSITIVE:
            self.log.violation(
                "mutation_while_controltower_busy",
                f"{info.key} by account {ctx.account} while Control Tower was busy "
                f"({self.controltower.busy_reason() or 'activity'}); status {status or 'connection closed'}",
                entry["seq"],
            )
        return entry

    @staticmethod
    def _setting_ms(snap, section, key):
        table = snap.get(section) or {}
        return float(table.get(key, table.get("default", 0)) or 0) / 1000.0

    def _handle(self, ctx):
        snap = self.settings.snapshot()
        # In progress from arrival to answer, the emulated round trip included.
        slot = self.in_progress.enter(snap.get("in_progress_limits") or {}, ctx.account, ctx.info.key)
        try:
            return self._handle_in_progress(ctx, snap, busy=slot is None)
        finally:
            self.in_progress.leave(slot)

    def _handle_in_progress(self, ctx, snap, busy):
        info = ctx.info
        self.log.begin()
        latency = self._setting_ms(snap, "latency_ms", info.key)
        if latency:
            time.sleep(latency)  # real time, outside every lock
        fault = None
        try:
            scheduled = self.faults.take_scheduled(info.key, "before")
            if scheduled is not None:
                fault = "fail-next:before"
                if scheduled["close_connection"]:
                    return self._closed(ctx, self.controltower.busy_for(info.key, ctx.params))
                raise AwsError(scheduled["code"], scheduled["message"], scheduled["status"])
            if busy:
                fault = "in-progress-limit"
                raise errors.throttle_error(info.service)
            drawn = self.faults.draw(snap["faults"], self.settings.version)
            if drawn:
                fault = "random"
            if drawn == "throttle":
                raise errors.throttle_error(info.service)
            if drawn == "server_error":
                raise errors.server_error(info.service)
            if not self.limiter.allow(snap["rate_limits"], self.settings.version,
                                      ctx.account, info.key):
                fault = "rate-limit"
                raise errors.throttle_error(info.service)
        except AwsError as err:
            status, headers, out = errors.render(info, err)
            entry = self._record(ctx, status, headers, out, self.controltower.busy_for(info.key, ctx.params), fault)
            return status, headers, out, entry

        domains = self.domains(ctx)
        with self.locks.hold(*domains):
            hold = self._setting_ms(snap, "hold_ms", info.key)
            if hold:
                time.sleep(hold)  # server-side work inside the resource's lock
            ct_busy = self.controltower.busy_for(info.key, ctx.params)
            if "organizations" in domains:
                self.organizations.tick()
            status, headers, out = self._dispatch(ctx)
            if info.service in ("iam", "sts"):
                motoseam.forget_access_keys()
            if status < 400:
                scheduled = self.faults.take_scheduled(info.key, "after")
                if scheduled is not None:
                    if scheduled["close_connection"]:
                        return self._closed(ctx, ct_busy, "fail-next:after")
                    fault = "fail-next:after"
                    status, headers, out = errors.render(
                        info, AwsError(scheduled["code"], scheduled["message"], scheduled["status"]))
            entry = self._record(ctx, status, headers, out, ct_busy, fault)
            return status, headers, out, entry

    def _closed(self, ctx, ct_busy, when="fail-next:before"):
        """Log a request whose connection is to be dropped (status 0)."""
        entry = self._record(ctx, 0, [], b"", ct_busy, "connection-closed")
        entry["fault_when"] = when
        return 0, [], b"", entry

    @staticmethod
    def _drop_connection(environ):
        """Close the client's connection without an answer (werkzeug's socket)."""
        sock = environ.get("werkzeug.socket")
        if sock is None:
            return False
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return True

    def _dispatch(self, ctx):
        """The service handler's checks, moto, the handler's post-processing."""
        info = ctx.info
        handler = self.handlers.get(info.service)
        try:
            if handler is not None:
                answer = handler.before(ctx)
                if answer is not None:
                    return self._json_answer(ctx, answer)
            status, headers, out = self._forward(ctx)
            if handler is not None:
                replaced = handler.after(ctx, status, out)
                if replaced is not None:
                    out = replaced
            return status, headers, out
        except AwsError as err:
            return errors.render(info, err)
        except Exception:  # an emulator bug: answer 500 and say where
            traceback.print_exc()
            return errors.render(info, AwsError("InternalFailure", traceback.format_exc(limit=3), 500))

    def _json_answer(self, ctx, answer):
        """A handler answered itself: (status, payload) or (status, headers, bytes)."""
        if len(answer) == 3:
            return answer
        status, payload = answer
        if ctx.info.protocol == "rpc-v2-cbor":
            from . import cbor

            return status, [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")], \
                cbor.encode(payload)
        ctype = "application/json" if ctx.info.protocol == "rest-json" else "application/x-amz-json-1.1"
        return status, [("Content-Type", ctype)], json.dumps(payload, default=str).encode()

    def _forward(self, ctx):
        environ = dict(ctx.environ)
        environ["wsgi.input"] = io.BytesIO(ctx.body)
        environ["CONTENT_LENGTH"] = str(len(ctx.body))
        captured = {}

        def start_response(status, headers, exc_info=None):
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = list(headers)
            return lambda data: None

        result = self.moto_app(environ, start_response)
        try:
            out = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        motoseam.patch_new_modules()
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        return captured["status"], headers, out

    @staticmethod
    def _read_body(environ):
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > 0:
            body = environ["wsgi.input"].read(length)
        elif environ.get("wsgi.input_terminated"):  # chunked upload: read to the end
            body = environ["wsgi.input"].read()
        else:
            body = b""
        environ["wsgi.input"] = io.BytesIO(body)
        return body

    @staticmethod
    def _error_code(status, headers, out):
        if status < 400:
            return None
        for key, value in headers:
            if key.lower() == "x-amzn-errortype":
                return value.split(":", 1)[0]
        try:
            data = json.loads(out)
            code = data.get("__type") or data.get("code") or data.get("Code")
            if code:
                return code.rsplit("#", 1)[-1]
        except (ValueError, AttributeError):
            pass
        match = _XML_CODE.search(out or b"")
        return match.group(1).decode() if match else f"HTTP{status}"

    @staticmethod
    def _respond(start_response, status, headers, out):
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 409: "Conflict",
                  429: "Too Many Requests", 500: "Internal Server Error"}.get(status, "Status")
        headers = list(headers) + [("Content-Length", str(len(out)))]
        start_response(f"{status} {reason}", headers)
        return [out]

    def account_for(self, info):
        if info.account_header:
            return info.account_header
        return motoseam.account_for_access_key(info.access_key)

    # ---------------------------------------------------------------- reset
    def reset(self):
        with self.locks.world.exclusive():
            motoseam.reset_all()
            self.clock.reset()
            self.settings.reset()
            self.limiter.reset()
            self.in_progress.reset()
            self.faults.reset()
            self.log.clear(restart_seq=True)
            self.organizations.reset()
            self.controltower.reset()
            self.stacksets.reset()
            self.detective.reset()
            self.servicecatalog.reset()
