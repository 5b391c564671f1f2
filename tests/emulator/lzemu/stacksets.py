"""StackSets that take time (filled in below)."""


class StackSets:
    def __init__(self, emulator):
        self.emulator = emulator

    def reset(self):
        pass

    def before(self, ctx):
        return None

    def after(self, ctx, status, out):
        pass

    def controltower_deployed(self, ou_id):
        pass

    def on_account_moved(self, account_id, source_parent, destination_parent):
        pass
