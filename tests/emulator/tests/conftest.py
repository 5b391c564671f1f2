"""Starts one emulator (through start.sh, as the Rust harness does) per test session
and resets it before every test."""

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

HERE = Path(__file__).resolve().parent.parent
MANAGEMENT = "123456789012"

# Tests run without the start-up throttling (requests in progress) unless they set it,
# and with short operation times.
TEST_SETTINGS = {
    "rate_limits": None,
    "in_progress_limits": None,
    "stackset_operation_seconds": 1.0,
    "controltower_operation_seconds": 1.0,
    "controltower_landing_zone": True,
}


class Emulator:
    def __init__(self, port):
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}"

    def client(self, service, account=None, region="us-east-1", retries=1, **creds):
        config = Config(retries={"total_max_attempts": retries, "mode": "standard"})
        client = boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=creds.get("key", "testing"),
            aws_secret_access_key=creds.get("secret", "testing"),
            aws_session_token=creds.get("token"),
            config=config,
        )
        if account:
            def add_account(request, **_):
                request.headers["x-moto-account-id"] = account

            client.meta.events.register("before-sign", add_account)
        return client

    def get(self, path):
        with urllib.request.urlopen(self.endpoint + path, timeout=10) as resp:
            return json.load(resp)

    def post(self, path, payload=None):
        data = json.dumps(payload or {}).encode()
        req = urllib.request.Request(self.endpoint + path, data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.load(resp)

    def log(self):
        return self.get("/_lzemu/log")

    def violations(self):
        return self.get("/_lzemu/violations")


@pytest.fixture(scope="session")
def emulator_process(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lzemu")
    port_file = tmp / "port"
    settings_file = tmp / "settings.json"
    settings_file.write_text(json.dumps(TEST_SETTINGS))
    started = time.monotonic()
    # stderr goes to a file (a pipe nobody reads could fill up and stall the server)
    stderr_path = Path(os.environ.get("LZEMU_TEST_STDERR", tmp / "emulator.stderr"))
    stderr_file = open(stderr_path, "w")
    proc = subprocess.Popen(
        [str(HERE / "start.sh"), "--port-file", str(port_file), "--settings", str(settings_file)],
        stdout=subprocess.DEVNULL, stderr=stderr_file,
    )
    deadline = time.monotonic() + 120
    while not port_file.exists():
        if proc.poll() is not None:
            raise RuntimeError("emulator exited: " + stderr_path.read_text())
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("emulator did not start")
        time.sleep(0.02)
    emu = Emulator(int(port_file.read_text()))
    emu.startup_seconds = time.monotonic() - started
    yield emu
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    stderr_file.close()


@pytest.fixture
def emu(emulator_process):
    emulator_process.post("/_lzemu/reset")
    return emulator_process


@pytest.fixture
def org(emu):
    """A fresh organization; returns (organizations client, root id)."""
    client = emu.client("organizations")
    client.create_organization(FeatureSet="ALL")
    root = client.list_roots()["Roots"][0]["Id"]
    return client, root
