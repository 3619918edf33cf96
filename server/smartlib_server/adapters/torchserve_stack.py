"""Starts and stops the local TorchServe tier with the committed, locked-down configuration.

    python -m smartlib_server.adapters.torchserve_stack start [--version V] [--model-store model_store] [--run-dir var/torchserve]
    python -m smartlib_server.adapters.torchserve_stack stop  [--run-dir var/torchserve]

`start` verifies the archives of one encoder version against their sha256 manifest, writes the
effective config.properties into the run folder (the committed one plus the archive folder,
a narrowed allowed_urls and any port overrides), launches TorchServe and waits until every
model has a ready worker. Logs go to <run-dir>/logs. Only loopback addresses are accepted.
"""
from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from smartlib_core.archives import ArchiveError, archive_dir, newest_version, verify_archives

DEFAULT_CONFIG = Path("model_store/config/config.properties")
DEFAULT_RUN_DIR = Path("var/torchserve")
STATE_FILE = "stack.json"
JAVA_MAIN = "org.pytorch.serve.ModelServer"
ADDRESS_KEYS = ("inference_address", "management_address", "metrics_address")
GRPC_KEYS = (("grpc_inference_address", "grpc_inference_port"), ("grpc_management_address", "grpc_management_port"))


class StackError(RuntimeError):
    """TorchServe could not be started or stopped; the message says why and where the logs are."""


@dataclasses.dataclass(frozen=True)
class Ports:
    """Overrides for the committed ports (tests use free ones); None keeps the committed value."""

    inference: int | None = None
    management: int | None = None
    metrics: int | None = None
    grpc_inference: int | None = None
    grpc_management: int | None = None


@dataclasses.dataclass(frozen=True)
class StackInfo:
    pid: int  # the TorchServe (Java) process
    version: str
    run_dir: Path
    grpc_target: str  # host:port of the gRPC inference API
    management_url: str
    inference_url: str
    metrics_url: str
    models: tuple[str, ...]

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        data["run_dir"] = str(self.run_dir)
        data["models"] = list(self.models)
        return json.dumps(data, indent=2)


def read_properties(path: Path) -> dict[str, str]:
    """The key=value lines of a Java properties file, values unescaped (\\\\ -> \\)."""
    props: dict[str, str] = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            key, value = line.split("=", 1)
            props[key.strip()] = value.strip().replace("\\\\", "\\")
    return props


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\")


def effective_config(committed: dict[str, str], store: Path, models: list[str], ports: Ports) -> dict[str, str]:
    """The committed settings plus what only the launcher knows; refuses non-loopback addresses."""
    props = dict(committed)
    for key, port in zip(ADDRESS_KEYS, (ports.inference, ports.management, ports.metrics), strict=True):
        if port is not None:
            props[key] = f"http://127.0.0.1:{port}"
    for (_, port_key), port in zip(GRPC_KEYS, (ports.grpc_inference, ports.grpc_management), strict=True):
        if port is not None:
            props[port_key] = str(port)
    props["model_store"] = str(store)
    props["load_models"] = ",".join(models)
    props["allowed_urls"] = f"file://{re.escape(str(store))}/[^/]+\\.mar"
    hosts = [urlparse(props.get(k, "")).hostname or "" for k in ADDRESS_KEYS]
    hosts += [props.get(addr_key, "") for addr_key, _ in GRPC_KEYS]
    for host in hosts:
        if not _is_loopback(host):
            raise StackError(f"refusing to start: {host!r} is not a loopback address; TorchServe stays on 127.0.0.1")
    if props.get("enable_model_api", "false").lower() != "false":
        raise StackError("refusing to start: enable_model_api must stay false")
    return props


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def start(
    model_store: Path = Path("model_store"),
    version: str = "",
    config: Path = DEFAULT_CONFIG,
    run_dir: Path = DEFAULT_RUN_DIR,
    ports: Ports = Ports(),
    timeout_s: float = 180.0,
    torch_threads: int = 1,
) -> StackInfo:
    """Starts TorchServe for one verified archive version and waits until its models are ready.

    Raises:
        StackError: no archives, a checksum mismatch, a non-loopback address, a TorchServe
            already running from run_dir, or models not ready within timeout_s.
    """
    run_dir = Path(run_dir).resolve()
    if _running_pid(run_dir):
        raise StackError(f"TorchServe from {run_dir} is already running; stop it first")
    version = version or newest_version(model_store)
    if not version:
        raise StackError(f"no archives under {Path(model_store) / 'torchserve'}; run `smartlib export-mar` first")
    store = archive_dir(model_store, version).resolve()
    try:
        archives = verify_archives(store)
    except ArchiveError as exc:
        raise StackError(str(exc)) from None
    props = effective_config(read_properties(config), store, sorted(p.name for p in archives.values()), ports)

    logs = run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    config_path = run_dir / "config.properties"
    config_path.write_text("".join(f"{k}={_escape(v)}\n" for k, v in props.items()))
    # Worker sockets live in java.io.tmpdir and the launcher's pid file in TMPDIR; a private,
    # short folder (unix socket paths are limited to ~100 bytes) keeps instances apart.
    private_tmp = Path(tempfile.mkdtemp(prefix="sl-ts-"))
    env = dict(os.environ)
    env.update({
        "TEMP": str(private_tmp), "TMPDIR": str(private_tmp),
        "LOG_LOCATION": str(logs), "METRICS_LOCATION": str(logs),
        "OMP_NUM_THREADS": str(torch_threads), "MKL_NUM_THREADS": str(torch_threads),
        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
    })
    cmd = [sys.executable, "-m", "ts.model_server", "--start", "--ncs", "--ts-config", str(config_path),
           "--model-store", str(store)]
    with open(logs / "launcher.log", "ab") as out:
        subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=run_dir, check=False, timeout=60)
    pid_file = private_tmp / ".model_server.pid"
    if not pid_file.is_file():
        shutil.rmtree(private_tmp, ignore_errors=True)
        raise StackError(f"TorchServe did not start; see {logs / 'launcher.log'}")
    pid = int(pid_file.read_text().strip())

    grpc_host = props["grpc_inference_address"]
    info = StackInfo(
        pid=pid, version=version, run_dir=run_dir,
        grpc_target=f"{grpc_host}:{props['grpc_inference_port']}",
        management_url=props["management_address"], inference_url=props["inference_address"],
        metrics_url=props["metrics_address"], models=tuple(sorted(archives)),
    )
    state = json.loads(info.to_json()) | {"tmp": str(private_tmp)}
    (run_dir / STATE_FILE).write_text(json.dumps(state, indent=2))
    try:
        _wait_ready(info, timeout_s)
    except StackError:
        stop(run_dir)
        raise
    return info


def _wait_ready(info: StackInfo, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    pending = set(info.models)
    while pending:
        if not _alive(info.pid):
            raise StackError(f"TorchServe exited during start; see {info.run_dir / 'logs'}")
        for name in sorted(pending):
            try:
                with urllib.request.urlopen(f"{info.management_url}/models/{name}", timeout=2) as answer:
                    workers = json.load(answer)[0].get("workers", [])
                if any(w.get("status") == "READY" for w in workers):
                    pending.discard(name)
            except (OSError, ValueError, urllib.error.URLError):
                pass  # not listening yet
        if pending and time.monotonic() > deadline:
            raise StackError(f"models {sorted(pending)} not ready after {timeout_s:.0f}s; see {info.run_dir / 'logs'}")
        if pending:
            time.sleep(0.5)


def _alive(pid: int) -> bool:
    import psutil

    try:
        process = psutil.Process(pid)
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE and JAVA_MAIN in process.cmdline()
    except psutil.Error:
        return False


def _running_pid(run_dir: Path) -> int | None:
    try:
        pid = int(json.loads((Path(run_dir) / STATE_FILE).read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None
    return pid if _alive(pid) else None


def stop(run_dir: Path = DEFAULT_RUN_DIR, timeout_s: float = 30.0) -> bool:
    """Stops the TorchServe started from run_dir and its workers; False when none was running.

    Only a process whose command line is TorchServe's is ever signalled, so a stale pid that
    now belongs to something else is left alone.
    """
    import psutil

    run_dir = Path(run_dir).resolve()
    state_path = run_dir / STATE_FILE
    try:
        state = json.loads(state_path.read_text())
    except (OSError, ValueError):
        return False
    stopped = False
    pid = _running_pid(run_dir)
    if pid:
        process = psutil.Process(pid)
        workers = process.children(recursive=True)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except psutil.TimeoutExpired:
            process.kill()
        _, alive = psutil.wait_procs(workers, timeout=5)
        for worker in alive:
            worker.kill()
        stopped = True
    if state.get("tmp", "").startswith(tempfile.gettempdir()):
        shutil.rmtree(state["tmp"], ignore_errors=True)
    state_path.unlink(missing_ok=True)
    return stopped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smartlib_server.adapters.torchserve_stack", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("--model-store", type=Path, default=Path("model_store"))
    parser.add_argument("--version", default="", help="encoder version to serve (default: newest exported)")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR)
    args = parser.parse_args(argv)
    try:
        if args.action == "start":
            info = start(args.model_store, args.version, args.config, args.run_dir)
            print(f"TorchServe {info.version} ready: gRPC {info.grpc_target}, metrics {info.metrics_url}/metrics, "
                  f"logs {info.run_dir / 'logs'}")
        else:
            print("TorchServe stopped" if stop(args.run_dir) else "TorchServe was not running")
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
