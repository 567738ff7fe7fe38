"""The stack the browser tests run against: a temporary SQLite database, tenants and keys made
with the CLI, the sandbox (signed-webhook receiver) and the service on free loopback ports, and
headless Chromium driven by Selenium.

Nothing here sleeps for a fixed time: every wait polls a condition until a deadline.
"""
from __future__ import annotations

import base64
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COOKIE = "pos_console"


def free_port() -> int:
    """A port nothing listens on now (bound once by us, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, timeout: float = 30.0, interval: float = 0.1, message: str = "condition"):
    """Polls `condition` until it returns something truthy; that value is returned."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:  # a condition may fail while the thing it watches starts
            last_error = error
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {message}"
                                 + (f" (last error: {last_error!r})" if last_error else ""))
        time.sleep(interval)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(NoRedirect)


class Answer:
    def __init__(self, status: int, headers, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)

    def header_values(self, name: str) -> list[str]:
        return self.headers.get_all(name) or []


def http(method: str, url: str, body=None, headers: dict | None = None, timeout: float = 30.0) -> Answer:
    """One request, redirects NOT followed (a 3xx is an answer like any other)."""
    headers = dict(headers or {})
    data = None
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        data = body.encode()
    elif isinstance(body, bytes):
        data = body
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with _opener.open(request, timeout=timeout) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers, error.read())


def order_body(outlet: str, uuid: str, ref: str, total: str = "85") -> dict:
    """A valid dispatch body (the example order of the served OpenAPI document, as in scripts/bench.d/dispatch.lua)."""
    return {
        "outletId": outlet, "event": "order.paid",
        "order": {
            "uuid": uuid, "orderRefNo": ref, "dailyQueueNo": "A12", "storeUuid": outlet, "storeName": "Browser Test Branch",
            "deliveryMethod": "DELIVERY", "status": "PAID", "currency": "AED", "isPreorder": False,
            "items": [{"plu": "SKU-BURGER-01", "name": "Classic Burger", "quantity": 2, "itemOnlyPrice": 35,
                       "modifierOnlyPrice": 5, "itemPrice": 40, "itemSubTotal": 80,
                       "modifiers": [{"modifierHeaderId": "mh-cheese", "modifierOptionId": "mo-extra-cheese",
                                      "modifierHeaderName": "Cheese", "modifierOptionName": "Extra Cheese",
                                      "price": 5, "quantity": 1}]}],
            "subtotal": 80, "discountTotal": 0, "serviceCharge": 0, "deliveryFee": 5, "totalPay": json.loads(total),
            "payment": {"amount": json.loads(total), "tip": 5, "method": "CARD"}, "createdAt": "2024-12-01T14:30:00Z",
        },
    }


class Process:
    """A child process whose output goes to a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name: str, argv: list[str], env: dict, log_dir: str):
        self.name = name
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 40) -> str:
        self.log.flush()
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


class Stack:
    """Database, tenants, keys, sandbox and service for one run."""

    def __init__(self):
        binary = os.environ.get("POS_BROWSER_BIN", os.path.join(ROOT, ".build", "debug", "pos-integration"))
        if not os.path.isabs(binary):
            binary = os.path.join(ROOT, binary)
        if not os.access(binary, os.X_OK):
            raise RuntimeError(f"no service binary at {binary} (build it with `swift build`, or set POS_BROWSER_BIN)")
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="pos-browser.")
        self.database = os.path.join(self.dir, "pos.sqlite")
        self.processes: list[Process] = []
        self.env = dict(os.environ)
        self.env.update({
            "POS_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "POS_ALLOW_PRIVATE_TARGETS": "true",
            "POS_RETRY_SCHEDULE": "0s,1s",
            "POS_WORKER_POLL_INTERVAL": "200ms",
            "POS_AUTH_CACHE_TTL": "0",
            "POS_DELIVERY_TIMEOUT": "5s",
            "POS_CIRCUIT_FAILURES": "1000",
            "LOG_LEVEL": os.environ.get("POS_BROWSER_LOG_LEVEL", "info"),
        })
        # Under scripts/test the service logs every line as JSON into the suite's capture directory,
        # which scripts/check-log-secrets reads after the run. The doubles' logs stay in the run's
        # own directory: their start banner shows their fixed sandbox credentials on purpose.
        self.log_dir = self.dir
        capture_dir = os.environ.get("POS_TEST_LOG_CAPTURE_DIR")
        if capture_dir:
            self.log_dir = os.path.join(capture_dir, "browser-" + os.path.basename(self.dir))
            os.makedirs(self.log_dir, exist_ok=True)
            self.env.update({"LOG_LEVEL": "trace", "LOG_FORMAT": "json"})
        self.env.pop("POS_DATABASE_URL", None)
        self.sandbox_port = None
        self.port = None

    # CLI

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([self.binary, *args], env=self.env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                timeout=120)
        if check and result.returncode != 0:
            raise RuntimeError(f"`pos-integration {' '.join(args)}` failed ({result.returncode}): {result.stderr.strip()}")
        return result

    def cli_json(self, *args: str):
        return json.loads(self.cli(*args).stdout)

    def create_tenant(self, subdomain: str, name: str) -> dict:
        return self.cli_json("tenant", "create", "--subdomain", subdomain, "--name", name, "--database", self.database)

    def create_key(self, tenant: str, *scopes: str) -> dict:
        argv = ["key", "create", "--tenant", tenant, "--database", self.database]
        for scope in scopes:
            argv += ["--scope", scope]
        return self.cli_json(*argv)

    def create_operator_key(self) -> str | None:
        """An operator key, or None when this build's CLI has no `key create --operator`."""
        help_text = self.cli("key", "create", "--help", check=False).stdout
        if "--operator" not in help_text:
            return None
        argv = ["key", "create", "--operator", "--database", self.database]
        if "--name" in help_text:
            argv[3:3] = ["--name", "browser-tests"]
        result = self.cli(*argv, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"`pos-integration {' '.join(argv)}` failed: {result.stderr.strip()}")
        for token in result.stdout.replace('"', " ").split():
            if token.startswith("posop_"):
                return token
        raise RuntimeError(f"`key create --operator` printed no posop_ key: {result.stdout!r}")

    # Processes

    def start(self):
        self.cli("migrate", "--database", self.database)
        self.sandbox_port = free_port()
        self.sandbox = self.start_sandbox(self.sandbox_port, name="sandbox")
        self.port = free_port()
        self.service = Process("service", [self.binary, "serve", "--host", "127.0.0.1", "--port", str(self.port),
                                           "--database", self.database], self.env, self.log_dir)
        self.processes.append(self.service)
        self.wait_healthy(self.service, f"{self.base}/health", "the service's /health")

    def start_sandbox(self, port: int, name: str, secret: str | None = None) -> Process:
        argv = [self.binary, "sandbox", "--host", "127.0.0.1", "--port", str(port)]
        if secret:
            argv += ["--webhook-secret", secret]
        process = Process(name, argv, self.env, self.dir)
        self.processes.append(process)
        self.wait_healthy(process, f"http://127.0.0.1:{port}/webhook/received", f"the {name}'s receiver")
        return process

    def wait_healthy(self, process: Process, url: str, what: str, timeout: float = 60.0):
        def up():
            if not process.alive():
                raise RuntimeError(f"{process.name} exited with {process.proc.returncode}:\n{process.tail()}")
            try:
                return http("GET", url, timeout=2).status == 200
            except (OSError, http.client.HTTPException):
                return False
        try:
            wait_until(up, timeout=timeout, interval=0.1, message=what)
        except AssertionError as error:
            raise RuntimeError(f"{error}\n{process.tail()}") from None

    def stop(self):
        for process in reversed(self.processes):
            try:
                process.stop()
            except Exception:
                pass
        if os.environ.get("POS_BROWSER_KEEP"):
            print(f"note: kept {self.dir} (POS_BROWSER_KEEP)")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # HTTP

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def receiver(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    def api(self, method: str, path: str, key: str, body=None, expect: int | tuple | None = None) -> Answer:
        answer = http(method, self.base + path, body=body, headers={"X-Api-Key": key})
        if expect is not None:
            wanted = expect if isinstance(expect, tuple) else (expect,)
            if answer.status not in wanted:
                raise AssertionError(f"{method} {path} answered {answer.status}, wanted {expect}: {answer.text[:500]}")
        return answer

    def register_webhook(self, key: str, outlet: str, url: str, provider: str = "browser-pos") -> dict:
        return self.api("POST", "/api/v1/webhooks/register", key, {
            "outletId": outlet, "provider": provider, "callbackUrl": url, "events": ["order.paid"]}, expect=(200, 201)).json()

    def dispatch(self, key: str, outlet: str, ref: str, uuid: str | None = None) -> dict:
        uuid = uuid or "browser-" + secrets.token_hex(8)
        answer = self.api("POST", "/api/v1/orders/dispatch", key, order_body(outlet, uuid, ref))
        if answer.status >= 300 and answer.status != 502:
            raise AssertionError(f"dispatch answered {answer.status}: {answer.text[:500]}")
        body = answer.json()
        if "orderId" not in body:
            raise AssertionError(f"dispatch answered {answer.status} without an orderId: {answer.text[:500]}")
        return body

    def deliveries(self, key: str, **query) -> list[dict]:
        path = "/api/v1/deliveries"
        if query:
            path += "?" + urllib.parse.urlencode(query)
        body = self.api("GET", path, key, expect=200).json()
        return body.get("deliveries", body if isinstance(body, list) else [])

    def received(self, base: str | None = None) -> dict:
        return http("GET", (base or self.receiver) + "/webhook/received").json()

    # Console over plain HTTP (no browser)

    def console_sign_in(self, key: str) -> Answer:
        return http("POST", self.base + "/console/sign-in", body=urllib.parse.urlencode({"key": key}),
                    headers={"Content-Type": "application/x-www-form-urlencoded"})

    def console(self, method: str, path: str, cookie: str | None, form: dict | None = None,
                origin: str | None = None) -> Answer:
        headers = {}
        if origin:
            headers["Origin"] = origin
        if cookie:
            headers["Cookie"] = f"{COOKIE}={cookie}"
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return http(method, self.base + path, body=body, headers=headers)


def session_cookie(answer: Answer) -> str | None:
    for header in answer.header_values("Set-Cookie"):
        name, _, rest = header.partition("=")
        if name.strip() == COOKIE:
            return rest.split(";", 1)[0]
    return None


# The browser

def chromium_binary() -> str | None:
    for candidate in (os.environ.get("POS_BROWSER_CHROMIUM"), "/usr/bin/chromium", "/usr/lib/chromium/chromium",
                      shutil.which("chromium"), shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def chromedriver_binary() -> str | None:
    for candidate in (os.environ.get("POS_BROWSER_CHROMEDRIVER"), "/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver",
                      shutil.which("chromedriver")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def start_browser(width: int = 1280, height: int = 900):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    binary = chromium_binary()
    if binary:
        options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
                     "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars", "--force-device-scale-factor=1",
                     f"--window-size={width},{height}", "--lang=en-US"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver_path = chromedriver_binary()
    if not driver_path:
        raise RuntimeError("chromedriver not found (apt-get install chromium-driver, or set POS_BROWSER_CHROMEDRIVER)")
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_window_size(width, height)
    driver.set_page_load_timeout(30)
    return driver
