"""The /_lzemu/ control endpoints (JSON in, JSON out)."""

import json
import traceback


def _body(environ):
    raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0) or -1)
    if not raw:
        return {}
    return json.loads(raw)


def handle_control(emulator, environ):
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "").rstrip("/")
    try:
        if path == "/_lzemu/health":
            return 200, {"ok": True}
        if path == "/_lzemu/reset" and method == "POST":
            emulator.reset()
            return 200, {"reset": True}
        if path == "/_lzemu/log" and method == "GET":
            return 200, emulator.log.entries()
        if path == "/_lzemu/violations" and method == "GET":
            return 200, emulator.log.violations()
        if path == "/_lzemu/log/clear" and method == "POST":
            emulator.log.clear()
            return 200, {"cleared": True}
        if path == "/_lzemu/settings":
            if method == "GET":
                return 200, emulator.settings.snapshot()
            if method == "POST":
                return 200, emulator.settings.update(_body(environ))
        if path == "/_lzemu/fail-next":
            if method == "POST":
                return 200, emulator.faults.schedule(_body(environ))
            return 200, emulator.faults.scheduled()
        if path == "/_lzemu/clock":
            if method == "POST":
                return 200, emulator.clock.update(_body(environ))
            return 200, emulator.clock.state()
        if path == "/_lzemu/organizations/account-state" and method == "POST":
            req = _body(environ)
            rules = emulator.organizations
            with emulator.locks.hold("organizations"):
                return 200, rules.pending_accounts.set_state(
                    rules.management_backend(), str(req.get("account_id", "")), req.get("state"))
        if path == "/_lzemu/controltower" and method == "GET":
            return 200, emulator.controltower.status()
        if path == "/_lzemu/controltower/activity" and method == "POST":
            req = _body(environ)
            return 200, emulator.controltower.start_activity(
                req.get("kind", "landing_zone_update"),
                float(req.get("seconds", 5)),
                req.get("target"),
                req.get("region"),
                req.get("product_status"),
            )
        if path == "/_lzemu/controltower/landing-zone" and method == "POST":
            return 200, emulator.controltower.set_landing_zone(_body(environ))
        if path.startswith("/_lzemu/detective"):
            body = _body(environ) if method in ("POST", "DELETE") else {}
            with emulator.locks.hold("detective"):
                return 200, emulator.detective.control(method, path, body)
        if path == "/_lzemu/controltower/drift" and method == "POST":
            return 200, emulator.controltower.set_drift(_body(environ))
    except ValueError as err:
        return 400, {"error": str(err)}
    except KeyError as err:
        return 404, {"error": f"not found: {err}"}
    except Exception as err:  # report, never kill the server
        traceback.print_exc()
        return 500, {"error": repr(err)}
    return 404, {"error": f"no control endpoint {method} {path}"}
