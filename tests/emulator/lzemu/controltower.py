"""Control Tower (filled in below)."""


class ControlTower:
    def __init__(self, emulator):
        self.emulator = emulator

    def reset(self):
        pass

    def busy(self):
        return False

    def busy_reason(self):
        return None

    def operation_for_path(self, service, method, path):
        return None

    def status(self):
        return {"busy": False}

    def start_activity(self, kind, seconds, target):
        raise ValueError("not built yet")

    def before(self, ctx):
        return None

    def after(self, ctx, status, out):
        pass
