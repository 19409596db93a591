"""`make e2e`: the real Pulumi CLI runs the real program, as `make up` does, against local AWS and
Datadog stand-ins, with every EC2 instance a real test host. Linux and root only.

What runs for real: the Pulumi CLI and engine, the toolchain's Python language host and the
program, the random, time and docker plugins of `make toolchain` (and command and datadog when a
plugin directory has them: `make toolchain` cannot build those two here, so tests/e2e/standins
stands in: command runs the real command, datadog only keeps the declarations and the run says
"Datadog: NOT judged"), scripts/deploy.sh (steps 1-5: prerequisites, file backend, stack creation
with a passphrase, the config checks, then preview/up/destroy), the readiness gate through the
Session Manager ProxyCommand, OpenSSH, Docker Engine, PostgreSQL prepared by user_data/. Standing
in: AWS (tests/e2e/aws_standin, a provider named `aws` 7.51.1 over moto), the Datadog API
(tests/providers/datadog_api_standin.py, for a real datadog plugin), the AWS CLI
(tests/e2e/bin/aws) and the images (tests/e2e/images).

Sequence, per host count (1: everything; 2: the path without the replacement):
  preview of a new stack -> up -> preview --expect-no-changes -> checks on every host ->
  new sshPublicKey -> up (the host is replaced) -> checks on the new host, old one gone ->
  the pull-request preview after a warningThreshold change names that property ->
  destroy -> nothing left in moto, in the Datadog stand-in, or on the test hosts.
`pulumi preview --expect-no-changes` and the pull-request preview are plain CLI calls:
deploy.sh passes no extra flags to `pulumi preview`.

Everything runs in a temporary directory (copy of the project, file backend, PULUMI_HOME with the
toolchain's plugins and this stand-in, moto, the Datadog stand-in, the test hosts): the user's
.pulumi-state and stacks are untouched, and everything started is stopped, also on failure.
Prints each phase's wall time and the Session Manager sessions per host per `up`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[2]
E2E = ROOT / "tests" / "e2e"
sys.path.insert(0, str(E2E / "hosts"))
import testhosts  # noqa: E402  (the hosts module's documented import)

PROJECT = "dd-assessment"
REGION = "us-east-2"
PASSPHRASE = "e2e-only-passphrase"
APP_CONTAINER, AGENT_CONTAINER, TRAFFIC_CONTAINER = "my-flask-app", "datadog-agent", "my-flask-app-traffic"
NETWORK = "dd-assessment"
GATEWAY = "172.30.0.1"
# Datadog-shaped fake keys: the provider only checks them against the stand-in.
FAKE_KEYS = {"DD_API_KEY": "0" * 32, "DD_APP_KEY": "0" * 40}

COMMAND_TIMEOUT = 1800  # one pulumi command; a cold first `up` builds the app image on a vfs engine
figures: list[tuple[str, float]] = []
session_figures: list[str] = []  # Session Manager sessions opened per host, per `up`


class E2EFailure(Exception):
    pass


def say(message: str) -> None:
    print(f"[e2e {time.strftime('%H:%M:%S')}] {message}", flush=True)


@contextmanager
def phase(name: str) -> Iterator[None]:
    say(f"{name} ...")
    start = time.monotonic()
    try:
        yield
    finally:
        elapsed = time.monotonic() - start
        figures.append((name, elapsed))
        say(f"{name}: {elapsed:.1f} s")


def same_device(a: Path, b: Path) -> bool:
    return a.stat().st_dev == b.stat().st_dev


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError as error:
            if time.monotonic() > deadline:
                raise E2EFailure(f"{what} did not answer at {url}: {error}") from None
            time.sleep(0.3)


def http_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


class Run:
    """One `make e2e`: the temporary world and the processes it started."""

    def __init__(self, base: Path, toolchain_env: dict[str, str], e2e_python: str) -> None:
        self.base = base
        self.processes: list[subprocess.Popen] = []
        self.project = base / "project"
        self.keys = base / "keys"
        self.env = dict(os.environ)
        self.env.update(toolchain_env)
        self.e2e_python = e2e_python
        self.moto_url = ""
        self.datadog_url = ""
        self.stood_in: dict[str, str] = {}
        self.probe_404s = 0  # the Datadog stand-in records our own after-destroy probes as refusals

    # ---- the world -------------------------------------------------------------------------

    def start(self, name: str, argv: list[str], **kwargs: Any) -> subprocess.Popen:
        log = open(self.base / f"{name}.log", "w")
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **kwargs)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()

    def start_services(self) -> None:
        port = free_port()
        self.moto_url = f"http://127.0.0.1:{port}"
        self.start("moto", [str(Path(self.e2e_python).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                   env={**self.env, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"})
        wait_http(self.moto_url + "/moto-api/", 60, "moto")
        port = free_port()
        self.datadog_url = f"http://127.0.0.1:{port}/"
        self.start("datadog-standin", [str(ROOT / "venv" / "bin" / "python"), "-m", "tests.providers.datadog_api_standin",
                                       "--port", str(port)], cwd=ROOT, env=self.env)
        wait_http(self.datadog_url + "_standin/report", 60, "the Datadog API stand-in")

    def make_pulumi_home(self) -> None:
        """The toolchain's plugins (linked, not copied) plus the stand-ins, in a PULUMI_HOME of this
        run: the toolchain cache is never modified. aws is always the stand-in; command and
        datadog are stand-ins only while the toolchain has no real one (toolchain/build.sh
        NOT-BUILT)."""
        toolchain_plugins = Path(self.env["PULUMI_HOME"]) / "plugins"
        home = self.base / "pulumi-home"
        (home / "plugins").mkdir(parents=True)
        real = {entry.name for entry in toolchain_plugins.iterdir()}
        stood_in = {"aws": "7.51.1"}
        for name, version in (("command", "1.2.1"), ("datadog", "5.17.0")):
            if f"resource-{name}-v{version}" not in real:
                stood_in[name] = version
        for entry in toolchain_plugins.iterdir():
            if not any(entry.name.startswith(f"resource-{name}-v") for name in stood_in):
                # Hard links (or copies across file systems): the CLI does not follow a symlinked
                # plugin directory.
                subprocess.run(["cp", "-al" if same_device(entry, home) else "-a", str(entry),
                                str(home / "plugins" / entry.name)], check=True)
        self.env["PULUMI_HOME"] = str(home)
        launchers = self.base / "launchers"
        launchers.mkdir()
        for name, version in sorted(stood_in.items()):
            source = E2E / "aws_standin" / "pulumi-resource-aws" if name == "aws" else E2E / "standins" / "launcher"
            launcher = launchers / f"pulumi-resource-{name}"
            shutil.copy2(source, launcher)
            self.pulumi("plugin", "install", "resource", name, version, "--file", str(launcher), cwd=self.base,
                        quiet=True)
        self.stood_in = stood_in
        say("plugins: real " + ", ".join(sorted(n for n in real if not n.endswith((".lock", ".lastused"))))
            + "; stand-ins " + ", ".join(f"{n} {v}" for n, v in sorted(stood_in.items()))
)

    def make_project(self) -> None:
        """A copy of the checkout (its own Pulumi.<stack>.yaml files and state), sharing ./venv."""
        files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                               cwd=ROOT, check=True, capture_output=True).stdout.decode().split("\0")
        for name in filter(None, files):
            source = ROOT / name
            if source.is_file() and not name.startswith("Pulumi.") or name == "Pulumi.yaml":
                target = self.project / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
        (self.project / "venv").symlink_to(ROOT / "venv")
        if (ROOT / "policy" / "venv").exists():
            (self.project / "policy" / "venv").symlink_to(ROOT / "policy" / "venv")

    def make_keys(self) -> None:
        self.keys.mkdir()
        for name in ("first", "second"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"e2e-{name}",
                            "-f", str(self.keys / name)], check=True)

    def prepare(self) -> None:
        self.env.update({
            "PATH": os.pathsep.join([str(E2E / "bin"), str(Path(self.e2e_python).parent), self.env["PATH"]]),
            "PULUMI_BACKEND_URL": f"file://{self.base / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "DD_E2E_DIR": str(self.base), "DD_E2E_HOSTS": "real",
            "DD_E2E_REPO": str(ROOT), "DD_E2E_PYTHON": self.e2e_python,
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION,
            **FAKE_KEYS,
        })
        (self.base / "state").mkdir()
        self.start_services()
        self.env["DD_E2E_MOTO_URL"] = self.moto_url
        os.environ.update({"DD_E2E_DIR": str(self.base), "DD_E2E_MOTO_URL": self.moto_url})
        self.make_pulumi_home()
        self.make_project()
        self.make_keys()

    # ---- commands ----------------------------------------------------------------------------

    def run(self, argv: list[str], *, cwd: Path | None = None, check: bool = True,
            quiet: bool = False) -> subprocess.CompletedProcess:
        try:
            result = subprocess.run(argv, cwd=cwd or self.project, env=self.env, stdin=subprocess.DEVNULL,
                                    capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise E2EFailure(f"`{' '.join(argv)}` still running after {COMMAND_TIMEOUT} s") from None
        log = self.base / "commands.log"
        with open(log, "a") as out:
            out.write(f"\n$ {' '.join(argv)}\n{result.stdout}{result.stderr}")
        if not quiet:
            sys.stdout.write(result.stdout[-6000:])
            sys.stdout.write(result.stderr[-3000:])
        if check and result.returncode != 0:
            raise E2EFailure(f"`{' '.join(argv)}` failed (exit {result.returncode}); full log: {log}")
        return result

    def pulumi(self, *args: str, cwd: Path | None = None, check: bool = True,
               quiet: bool = False) -> subprocess.CompletedProcess:
        return self.run(["pulumi", *args], cwd=cwd, check=check, quiet=quiet)

    def deploy(self, *args: str) -> subprocess.CompletedProcess:
        return self.run(["bash", "scripts/deploy.sh", *args])

    def write_stack_config(self, stack: str, host_count: int) -> None:
        """Settings deploy.sh would otherwise ask for, and where the stand-ins are."""
        endpoint = {service: self.moto_url for service in ("ec2", "iam", "ssm", "sts")}
        config = {
            "aws:region": REGION,
            "aws:endpoints": [endpoint],
            "aws:skipCredentialsValidation": True, "aws:skipMetadataApiCheck": True,
            "aws:skipRegionValidation": True, "aws:skipRequestingAccountId": True,
            "datadog:apiUrl": self.datadog_url,
            f"{PROJECT}:hostAccess": "ssm",
            f"{PROJECT}:hostCount": host_count,
            f"{PROJECT}:sshPublicKey": (self.keys / "first.pub").read_text().strip(),
            f"{PROJECT}:sshPrivateKeyPath": str(self.keys / "first"),
            f"{PROJECT}:appAllowedCidrs": ["10.231.0.0/16"],
            f"{PROJECT}:notifyHandles": ["@e2e@example.com"],
        }
        (self.project / f"Pulumi.{stack}.yaml").write_text(json.dumps({"config": config}, indent=2) + "\n")

    def outputs(self, stack: str) -> dict[str, Any]:
        return json.loads(self.pulumi("stack", "output", "--json", "--stack", stack, quiet=True).stdout)


# ---- what must be true on the hosts -----------------------------------------------------------

def check_host(run: Run, instance_id: str, ip: str, host_name: str, env: str) -> None:
    entry = testhosts.hosts().get(instance_id)
    if not entry:
        raise E2EFailure(f"{instance_id} has no test host: {sorted(testhosts.hosts())}")
    if entry["ip"] != ip:
        raise E2EFailure(f"{instance_id}: stack says {ip}, its test host is {entry['ip']}")
    running = {c.get("Names"): c for c in testhosts.docker_ps(instance_id)}
    for name in (AGENT_CONTAINER, APP_CONTAINER, TRAFFIC_CONTAINER):
        if name not in running:
            raise E2EFailure(f"{instance_id}: container {name} is not running (running: {sorted(running)})")
    network = testhosts.exec_in(instance_id, ["docker", "network", "inspect", NETWORK, "--format",
                                              "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}"])
    if network.stdout.strip() != f"172.30.0.0/24 {GATEWAY}":
        raise E2EFailure(f"{instance_id}: network {NETWORK} is {network.stdout.strip()!r}{network.stderr}")

    # The app answers on its published port, from outside the host.
    body = ""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            body = urllib.request.urlopen(f"http://{ip}/", timeout=5).read().decode()
            break
        except OSError:
            time.sleep(2)
    else:
        raise E2EFailure(f"{instance_id}: the app does not answer at http://{ip}/")
    say(f"{host_name}: app answers at http://{ip}/ ({len(body)} bytes)")

    # The demo traffic's requests reach the app, and their traces reach the Agent by DNS name,
    # with service, env and version.
    agent_ip = testhosts.exec_in(instance_id, ["docker", "inspect", "--format",
                                               "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                                               AGENT_CONTAINER]).stdout.strip()
    deadline = time.monotonic() + 180
    spans: list[dict] = []
    while time.monotonic() < deadline:
        traces = testhosts.exec_in(instance_id, ["python3", "-c",
                                                 "import urllib.request,sys;"
                                                 f"sys.stdout.write(urllib.request.urlopen('http://{agent_ip}:8126/test/traces').read().decode())"])
        try:
            spans = [span for trace in json.loads(traces.stdout or "[]") for span in trace]
        except json.JSONDecodeError:
            spans = []
        if any(s.get("service") == APP_SERVICE_NAME for s in spans):
            break
        time.sleep(5)
    app_spans = [s for s in spans if s.get("service") == APP_SERVICE_NAME]
    if not app_spans:
        raise E2EFailure(f"{instance_id}: no trace of {APP_SERVICE_NAME} reached the Agent "
                         f"({len(spans)} spans: {sorted({s.get('service') for s in spans})})")
    meta = app_spans[0].get("meta", {})
    if meta.get("env") != env:
        raise E2EFailure(f"{instance_id}: app spans carry env {meta.get('env')!r}, not the stack's {env!r}: {meta}")
    if not meta.get("version"):
        raise E2EFailure(f"{instance_id}: app spans carry no version: {meta}")
    say(f"{host_name}: {len(app_spans)} spans of {APP_SERVICE_NAME} at the Agent (env {meta.get('env')}, "
        f"version {meta.get('version')}, resources {sorted({s.get('resource') for s in app_spans})[:4]})")
    logs = testhosts.exec_in(instance_id, ["docker", "logs", APP_CONTAINER])
    requests = sum(1 for line in (logs.stdout + logs.stderr).splitlines() if '"GET ' in line)
    say(f"{host_name}: the app logged {requests} GET requests")

    # From the Agent's container, PostgreSQL answers at the network's gateway as `datadog`.
    import boto3  # the e2e venv's; moto holds the password the boot read
    ssm = boto3.client("ssm", endpoint_url=run.moto_url, region_name=REGION,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    parameters = ssm.get_parameters_by_path(Path="/", Recursive=True, WithDecryption=True)["Parameters"]
    password = next(p["Value"] for p in parameters if f"/{host_name}/postgres-datadog-password" in p["Name"])
    probe = ("import pg8000.native,sys;"
             f"c=pg8000.native.Connection('datadog',host='{GATEWAY}',password=sys.stdin.read(),database='postgres');"
             "print(c.run('select current_user, pg_has_role(current_user, \\'pg_monitor\\', \\'member\\')'))")
    answer = subprocess.run([*testhosts._nsenter(entry), "docker", "exec", "-i", AGENT_CONTAINER, "python3", "-c", probe],
                            input=password, capture_output=True, text=True, timeout=60)
    if "['datadog', True]" not in answer.stdout:
        raise E2EFailure(f"{instance_id}: PostgreSQL at {GATEWAY} as datadog from the Agent: "
                         f"{answer.stdout}{answer.stderr}")
    say(f"{host_name}: PostgreSQL answers at {GATEWAY} as datadog (pg_monitor) from the Agent's container")


APP_SERVICE_NAME = "my-flask-app"


def sessions_per_host(run: Run, since: int) -> dict[str, int]:
    log = run.base / "ssm-sessions.log"
    counts: dict[str, int] = {}
    if log.exists():
        for line in log.read_text().splitlines()[since:]:
            target = json.loads(line).get("target", "?")
            counts[target] = counts.get(target, 0) + 1
    return counts


def record_sessions(what: str, counts: dict[str, int]) -> None:
    line = f"{what}: " + (", ".join(f"{target} {n}" for target, n in sorted(counts.items())) or "none")
    session_figures.append(line)
    say(f"Session Manager sessions per host, {line}")


def session_lines(run: Run) -> int:
    log = run.base / "ssm-sessions.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def check_nothing_left(run: Run, outputs: dict[str, Any]) -> None:
    import boto3
    kwargs = dict(endpoint_url=run.moto_url, region_name=REGION, aws_access_key_id="testing",
                  aws_secret_access_key="testing")
    ec2, iam, ssm = (boto3.client(s, **kwargs) for s in ("ec2", "iam", "ssm"))
    left = []
    left += [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
             if i["State"]["Name"] != "terminated"]
    left += [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v.get("IsDefault")]
    left += [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]]
    left += [r["RoleName"] for r in iam.list_roles()["Roles"] if not r["Path"].startswith("/aws-service-role/")]
    left += [p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]]
    left += [p["Name"] for p in ssm.describe_parameters()["Parameters"]]
    if left:
        raise E2EFailure(f"left in moto after destroy: {left}")
    # The Datadog objects the stack had are gone: the API answers 404 for each, as a client sees it.
    api = run.datadog_url.rstrip("/")
    if "datadog" in run.stood_in:
        paths = []
    else:
        paths = [f"/api/v1/dashboard/{outputs['dashboardId']}", f"/api/v1/dashboard/{outputs['serviceDashboardId']}",
                 f"/api/v1/monitor/{outputs['monitorId']}"]
        paths += [f"/api/v2/downtime/{d}" for d in outputs["downtimeIds"].values()]
        run.probe_404s += len(paths)
    still = []
    for path in paths:
        request = urllib.request.Request(api + path, headers={"DD-API-KEY": FAKE_KEYS["DD_API_KEY"],
                                                              "DD-APPLICATION-KEY": FAKE_KEYS["DD_APP_KEY"]})
        try:
            urllib.request.urlopen(request, timeout=10)
            still.append(path)
        except urllib.error.HTTPError as error:
            if error.code != 404:
                still.append(f"{path} ({error.code})")
    if still:
        raise E2EFailure(f"left in the Datadog stand-in after destroy: {still}")
    if testhosts.hosts():
        raise E2EFailure(f"test hosts left after destroy: {sorted(testhosts.hosts())}")
    say("nothing left: moto and the test hosts are empty"
        + ("" if "datadog" in run.stood_in else ", the Datadog stand-in answers 404 for every object"))


def check_datadog_judgments(run: Run) -> None:
    """The Datadog stand-in refused nothing the real provider sent and knew every endpoint (the
    404s of check_nothing_left's own probes excepted)."""
    if "datadog" in run.stood_in:
        say("Datadog: NOT judged in this run (no real datadog plugin in the toolchain; "
            "tests/e2e/standins/datadog.py only keeps the declarations)")
        return
    report = http_json(run.datadog_url + "_standin/report")
    report["rejected"] = report["rejected"][run.probe_404s:]
    problems = {k: report[k] for k in ("rejected", "unexpected", "shape_errors") if report.get(k)}
    if problems:
        raise E2EFailure(f"the Datadog API stand-in judged the provider's requests: {problems}")
    say(f"Datadog stand-in: {len(report['requests'])} requests so far, none refused")


def scenario(run: Run, host_count: int, replace: bool) -> None:
    stack = f"e2e-{host_count}h"
    label = f"{host_count} host{'s' if host_count > 1 else ''}"
    run.write_stack_config(stack, host_count)

    with phase(f"preview of a new stack ({label})"):
        result = run.deploy("preview", stack)
        if "to create" not in result.stdout and "+ " not in result.stdout:
            raise E2EFailure("the first preview shows nothing to create")
    before = session_lines(run)
    with phase(f"up ({label})"):
        run.deploy("up", stack, "--yes")
    record_sessions(f"up ({label})", sessions_per_host(run, before))
    check_datadog_judgments(run)
    with phase(f"preview --expect-no-changes ({label})"):
        run.pulumi("preview", "--stack", stack, "--expect-no-changes", "--non-interactive")
    outputs = run.outputs(stack)
    with phase(f"checks on the hosts ({label})"):
        for name, instance_id, ip in zip(outputs["hostNames"], outputs["instanceIds"], outputs["publicIps"]):
            check_host(run, instance_id, ip, name, outputs["env"])

    if replace:
        old_ids = list(outputs["instanceIds"])
        run.pulumi("config", "set", "--stack", stack, "sshPublicKey", (run.keys / "second.pub").read_text().strip(),
                   quiet=True)
        run.pulumi("config", "set", "--stack", stack, "sshPrivateKeyPath", str(run.keys / "second"), quiet=True)
        before = session_lines(run)
        with phase(f"up after a new sshPublicKey: the hosts are replaced ({label})"):
            result = run.deploy("up", stack, "--yes")
            if "replace" not in result.stdout:
                raise E2EFailure("a new sshPublicKey did not replace anything")
        record_sessions(f"up replacing the hosts ({label})", sessions_per_host(run, before))
        outputs = run.outputs(stack)
        kept = set(old_ids) & set(outputs["instanceIds"])
        if kept:
            raise E2EFailure(f"instances not replaced by a new sshPublicKey: {sorted(kept)}")
        lingering = set(old_ids) & set(testhosts.hosts())
        if lingering:
            raise E2EFailure(f"old hosts still exist after the replacement: {sorted(lingering)}")
        with phase(f"checks on the new hosts ({label})"):
            for name, instance_id, ip in zip(outputs["hostNames"], outputs["instanceIds"], outputs["publicIps"]):
                check_host(run, instance_id, ip, name, outputs["env"])

        # The pull-request preview (.github/workflows: pulumi/actions `command: preview` with the
        # policy pack) after a settings change names what changes.
        run.pulumi("config", "set", "--stack", stack, "warningThreshold", "450", quiet=True)
        with phase(f"pull-request preview after a warningThreshold change ({label})"):
            args = ["preview", "--stack", stack, "--non-interactive", "--diff"]
            result = run.pulumi(*args, "--policy-pack", str(run.project / "policy"), check=False)
            if result.returncode != 0 and "method RunPlugin not implemented" in result.stderr + result.stdout:
                # The toolchain's own Python language host cannot start a policy pack yet.
                say("pull-request preview WITHOUT the policy pack: the toolchain's language host does not "
                    "implement RunPlugin (policy packs cannot start)")
                result = run.pulumi(*args)
            elif result.returncode != 0:
                raise E2EFailure(f"the pull-request preview failed (exit {result.returncode}); see {run.base}/commands.log")
            if "warning" not in result.stdout or "450" not in result.stdout:
                raise E2EFailure("the pull-request preview does not name the warning threshold's change")

    outputs = run.outputs(stack)
    with phase(f"destroy ({label})"):
        run.deploy("destroy", stack, "--yes")
    check_datadog_judgments(run)  # first: the probes below are 404s it records
    check_nothing_left(run, outputs)


def toolchain_environment() -> dict[str, str]:
    # DD_E2E_TOOLCHAIN=<a built toolchain dir>: use that build instead of this checkout's key
    # (while toolchain/ is being changed and not rebuilt yet).
    if os.environ.get("DD_E2E_TOOLCHAIN"):
        built = Path(os.environ["DD_E2E_TOOLCHAIN"])
        return {"PATH": f"{built / 'bin'}:{os.environ['PATH']}", "PULUMI_HOME": str(built / "pulumi-home"),
                "PULUMI_SKIP_UPDATE_CHECK": "true", "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
                "DD_TOOLCHAIN_DIR": str(built)}
    result = subprocess.run(["bash", "-c", 'source "$1" >&2 && env -0', "env", str(ROOT / "toolchain" / "env.sh")],
                            capture_output=True)
    if result.returncode != 0:
        raise E2EFailure(f"the Pulumi toolchain is missing: {result.stderr.decode().strip()} (run make toolchain)")
    pairs = (item.split("=", 1) for item in result.stdout.decode().split("\0") if "=" in item)
    return {k: v for k, v in pairs if k in ("PATH", "PULUMI_HOME", "PULUMI_SKIP_UPDATE_CHECK",
                                            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION", "DD_TOOLCHAIN_DIR")}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", default="1,2", help="host counts to run, e.g. 1 or 1,2 (default)")
    parser.add_argument("--python", required=True, help="the e2e venv's python (moto, boto3)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (not the processes)")
    args = parser.parse_args(argv)
    if sys.platform != "linux" or os.geteuid() != 0:
        print("make e2e: Linux and root only (network namespaces, dockerd, sshd per test host)", file=sys.stderr)
        return 1
    # A terminated run still cleans up: SIGTERM unwinds through the `finally` below like Ctrl-C.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    base = Path(tempfile.mkdtemp(prefix="dd-e2e-", dir="/var/tmp"))
    start = time.monotonic()
    run = None
    status = 1
    try:
        run = Run(base, toolchain_environment(), args.python)
        with phase("setup: moto, Datadog stand-in, PULUMI_HOME, project copy"):
            run.prepare()
        with phase("test images"):
            testhosts.ensure_images()
        counts = [int(n) for n in args.hosts.split(",")]
        for index, count in enumerate(counts):
            scenario(run, count, replace=index == 0)
        status = 0
    except E2EFailure as failure:
        say(f"FAILED: {failure}")
    finally:
        with phase("cleanup"):
            try:
                testhosts.destroy_all()
            finally:
                if run:
                    run.stop_all()
        if status == 0 and not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        else:
            say(f"logs kept in {base}")
        print("\nmake e2e figures (wall time):")
        for name, seconds in figures:
            print(f"  {name:<70} {seconds:7.1f} s")
        print(f"  {'total':<70} {time.monotonic() - start:7.1f} s")
        print("Session Manager sessions opened per host per up (each Docker connection opens one):")
        for line in session_figures:
            print(f"  {line}")
        print("e2e: 1 passed, 0 failed" if status == 0 else "e2e: 0 passed, 1 failed")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
