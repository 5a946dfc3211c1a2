"""Lambda functions as local Node processes (LAMBDA_RUNTIME_EXECUTOR=local-node).

The only Lambda executor in LocalStack's open-source core starts each execution environment as a
Docker container running LocalStack's init binary (a Go build of the Runtime Interface Emulator)
and the runtime image of the function (public.ecr.aws/lambda/nodejs:22), both fetched at run time.
This executor starts the environment as a child process instead: `node node_runtime.cjs` with the
function's unzipped code (or its copy under the compile cache: stable_code_dir) as working directory
and the environment variables LocalStack computed for the container. node_runtime.cjs speaks the
same executor HTTP protocol as the init binary:

- it listens on 127.0.0.1:<port> and answers `POST /invoke` (the payload LocalStack sends);
- it reports `POST <runtime endpoint>/status/<id>/ready` once the handler module is loaded (or
  `/status/<id>/error` when it cannot be);
- per invocation it posts `/invocations/<request id>/logs`, then `/response` or `/error`.

Timeouts are enforced twice: node_runtime.cjs answers `Sandbox.Timedout` when the function's timeout
passes, and this executor, should that answer not arrive within a grace period after the timeout
(a blocked event loop, a crashed process), answers it itself and restarts the process, as Lambda
resets a sandbox after a timeout. Only `nodejs*` runtimes with zip packages are supported.
"""

import base64
import json
import logging
import os
import shutil
import subprocess
import threading
import time
from concurrent.futures import wait
from pathlib import Path

from localstack import config
from localstack.aws.api.lambda_ import PackageType
from localstack.services.lambda_.invocation.executor_endpoint import ExecutorEndpoint
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)
from localstack.utils.net import get_free_tcp_port

LOG = logging.getLogger(__name__)

RUNTIME_SCRIPT = Path(__file__).with_name("node_runtime.cjs")
# How long after the function's own timeout the executor stops waiting for node_runtime.cjs.
TIMEOUT_GRACE_SECONDS = float(os.environ.get("LOCAL_NODE_TIMEOUT_GRACE_SECONDS", "2"))
# How long a process may take to load its handler and report ready.
STARTUP_TIMEOUT_SECONDS = float(os.environ.get("LOCAL_NODE_STARTUP_TIMEOUT_SECONDS", "20"))
LOG_DIR = os.environ.get("LOCAL_NODE_LOG_DIR") or None
COMPILE_CACHE_DIR = os.environ.get("LOCAL_NODE_COMPILE_CACHE") or None
# Copies of the functions' code at paths that depend only on the code (see stable_code_dir).
STABLE_CODE_ROOT = Path(COMPILE_CACHE_DIR) / "code" if COMPILE_CACHE_DIR else None
# A copy no process started from for this long is removed when the next version is prepared.
STABLE_CODE_MAX_IDLE_SECONDS = 24 * 3600


class NodeProcessEndpoint(ExecutorEndpoint):
    """LocalStack's executor endpoint, noting when the runtime says it exits after this error (a crash)."""

    exiting = False

    def invocation_error(self, request, req_id):
        if request.headers.get("X-Local-Node-Exiting"):
            self.exiting = True
        return super().invocation_error(request, req_id)


def node_binary() -> str:
    binary = os.environ.get("LOCAL_NODE_BINARY") or shutil.which("node")
    if not binary:
        raise LambdaRuntimeException("local-node executor: no `node` on PATH (set LOCAL_NODE_BINARY)")
    return binary


def stable_code_dir(function_version: FunctionVersion) -> Path | None:
    """The function's code copied to <compile cache>/code/<its SHA-256>, or None without a compile cache.

    Node keys its compile cache by the module's absolute path, and LocalStack unzips each version to a
    new random folder: run from there, no process of a new LocalStack ever found its bundle compiled.
    From a folder named after the code itself, a function's first call after a restart or a redeploy of
    the same code loads its bundle from the cache (about 60 ms less for a 2 MB bundle). The copy is made
    once per code, when the version is prepared (at deploy, not on a first call), and published with a
    rename, so that LocalStacks running side by side never see a half-written one.
    """
    code = function_version.config.code
    if STABLE_CODE_ROOT is None or not code or not getattr(code, "code_sha256", None):
        return None
    target = STABLE_CODE_ROOT / base64.b64decode(code.code_sha256).hex()
    if target.is_dir():
        return target
    staging = STABLE_CODE_ROOT / f".{target.name}.{os.getpid()}.{threading.get_ident()}"
    try:
        STABLE_CODE_ROOT.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(code.get_unzipped_code_location(), staging, symlinks=True)
        staging.rename(target)
    except OSError as e:
        shutil.rmtree(staging, ignore_errors=True)
        if target.is_dir():  # another LocalStack published the same code first
            return target
        LOG.warning("local-node: cannot copy the code to %s (%s); running it from LocalStack's folder", target, e)
        return None
    return target


def prune_stable_code(keep: Path) -> None:
    """Removes the copies of code no process started from for a day (each edit of a function makes one)."""
    cutoff = time.time() - STABLE_CODE_MAX_IDLE_SECONDS
    for entry in STABLE_CODE_ROOT.iterdir():
        try:
            if entry != keep and entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            pass


def timeout_result(request_id: str, timeout_seconds: float, logs: str | None) -> InvocationResult:
    payload = json.dumps(
        {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"{request_id} Task timed out after {timeout_seconds:.2f} seconds",
        }
    ).encode()
    return InvocationResult(request_id, payload, is_error=True, logs=logs)


class NodeProcessExecutor(RuntimeExecutor):
    process: subprocess.Popen | None

    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self.executor_endpoint = NodeProcessEndpoint(self.id, container_address="127.0.0.1")
        self.process = None
        self.env_vars: dict[str, str] = {}
        self.log_path: Path | None = None
        self._lock = threading.Lock()

    # Process lifecycle

    def _code_dir(self) -> Path:
        stable = stable_code_dir(self.function_version)
        if stable:
            os.utime(stable)  # in use: not pruned (prune_stable_code)
            return stable
        return Path(self.function_version.config.code.get_unzipped_code_location())

    def _spawn(self) -> None:
        port = get_free_tcp_port()
        self.executor_endpoint.container_port = port
        env = {key: str(value) for key, value in self.env_vars.items()}
        code_dir = self._code_dir()
        env.update(
            {
                "PATH": os.environ.get("PATH", ""),
                "HOME": os.environ.get("HOME", "/tmp"),
                "LAMBDA_TASK_ROOT": str(code_dir),
                "LOCAL_NODE_PORT": str(port),
            }
        )
        if COMPILE_CACHE_DIR:
            # V8's compiled code of the function's bundle, kept across processes and runs (Node >= 22.1):
            # a function's first call after a restart or a redeploy of the same code loads faster
            env["NODE_COMPILE_CACHE"] = COMPILE_CACHE_DIR
        if LOG_DIR:
            os.makedirs(LOG_DIR, exist_ok=True)
            self.log_path = Path(LOG_DIR) / f"{self.function_version.id.function_name}-{self.id}.log"
        else:
            self.log_path = Path(config.dirs.tmp) / f"local-node-{self.id}.log"
        log_file = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [node_binary(), str(RUNTIME_SCRIPT)],
            cwd=code_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            # in LocalStack's process group, so that stopping the group stops the functions too
        )
        log_file.close()
        LOG.debug("local-node: started pid %s for %s on port %s", self.process.pid, self.id, port)

    def _wait_ready(self) -> None:
        future = self.executor_endpoint.startup_future
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not future.done():
            if self.process.poll() is not None:
                raise LambdaRuntimeException(
                    f"local-node: the runtime process exited with {self.process.returncode} before it was ready; see {self.log_path}"
                )
            if time.monotonic() > deadline:
                raise LambdaRuntimeException(f"local-node: the runtime was not ready within {STARTUP_TIMEOUT_SECONDS}s; see {self.log_path}")
            # wakes as soon as the runtime reports ready (a function's first call waits here)
            wait([future], timeout=0.1)
        self.executor_endpoint.wait_for_startup()

    def _kill(self) -> None:
        process, self.process = self.process, None
        if process and process.poll() is None:
            process.kill()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                LOG.warning("local-node: pid %s did not exit after SIGKILL", process.pid)

    def start(self, env_vars: dict[str, str]) -> None:
        self.env_vars = env_vars
        self.executor_endpoint.start()
        self._spawn()
        self._wait_ready()

    def stop(self) -> None:
        self._kill()
        try:
            self.executor_endpoint.shutdown()
        except Exception as e:  # already unregistered
            LOG.debug("local-node: error while stopping endpoint %s: %s", self.id, e)

    def _restart(self) -> None:
        """A fresh process after a timeout, as Lambda resets the sandbox."""
        self._kill()
        try:
            self.executor_endpoint.shutdown()
        except Exception:
            pass
        self.executor_endpoint.start()
        self._spawn()
        self._wait_ready()

    # Invocation

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        timeout_seconds = float(self.function_version.config.timeout or 3)
        request_id = payload["invoke-id"]
        if self.process is None or self.process.poll() is not None:
            # the last invocation crashed the process (uncaught exception): start a fresh one
            self._restart()
        result: dict[str, InvocationResult] = {}
        error: dict[str, BaseException] = {}

        def run():
            try:
                result["value"] = self.executor_endpoint.invoke(payload)
            except BaseException as e:  # noqa: BLE001 - handed to the caller
                error["value"] = e

        worker = threading.Thread(target=run, name=f"local-node-invoke-{request_id}", daemon=True)
        worker.start()
        deadline = time.monotonic() + timeout_seconds + TIMEOUT_GRACE_SECONDS
        while worker.is_alive() and time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                # it may have posted its error just before exiting (an uncaught exception)
                worker.join(timeout=0.5)
                break
            worker.join(timeout=0.05)
        if "value" in result:
            answer = result["value"]
            if self.executor_endpoint.exiting:
                # a crash: the runtime reported it and exits; the next invocation starts a fresh process
                self.executor_endpoint.exiting = False
                self._kill()
            elif answer.is_error and answer.payload and b"Sandbox.Timedout" in answer.payload:
                self._restart()  # the timed-out handler may still be running: a fresh process
            return answer
        if "value" in error:
            raise error["value"]
        # No answer in time, or the process died: answer for it and start a fresh process.
        exited = self.process is None or self.process.poll() is not None
        LOG.warning(
            "local-node: %s %s; restarting its process",
            request_id,
            "runtime process exited" if exited else f"no answer within {timeout_seconds}s (+{TIMEOUT_GRACE_SECONDS}s grace)",
        )
        logs = self.executor_endpoint.logs
        if self.executor_endpoint.invocation_future and not self.executor_endpoint.invocation_future.done():
            self.executor_endpoint.invocation_future.cancel()
        self._restart()
        if exited:
            payload_bytes = json.dumps({"errorType": "Runtime.ExitError", "errorMessage": f"RequestId: {request_id} Error: Runtime exited"}).encode()
            return InvocationResult(request_id, payload_bytes, is_error=True, logs=logs)
        return timeout_result(request_id, timeout_seconds, logs)

    # Addresses: everything is on this host.

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return "127.0.0.1"

    def get_runtime_endpoint(self) -> str:
        return f"http://127.0.0.1:{config.GATEWAY_LISTEN[0].port}{self.executor_endpoint.get_endpoint_prefix()}"

    def get_logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace") if self.log_path else ""
        except OSError:
            return ""

    # Versions

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        runtime = function_version.config.runtime or ""
        if function_version.config.package_type != PackageType.Zip or not runtime.startswith("nodejs"):
            raise LambdaRuntimeException(
                f"local-node executor runs only nodejs zip functions, not {runtime or function_version.config.package_type}"
            )
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()
            stable = stable_code_dir(function_version)
            if stable:
                prune_stable_code(keep=stable)

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass

    @classmethod
    def validate_environment(cls) -> bool:
        try:
            node_binary()
        except LambdaRuntimeException as e:
            LOG.warning("%s", e)
            return False
        return True


class NodeProcessExecutorPlugin(RuntimeExecutorPlugin):
    name = "local-node"

    def load(self, *args, **kwargs):
        return NodeProcessExecutor
