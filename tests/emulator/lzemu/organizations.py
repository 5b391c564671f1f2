"""Organizations as AWS enforces it (filled in below)."""


class OrganizationsRules:
    def __init__(self, emulator):
        self.emulator = emulator

    def reset(self):
        pass

    def before(self, ctx):
        return None

    def after(self, ctx, status, out):
        pass
