"""Shared by scripts/crash-test and scripts/multi-replica: start the service and the sandbox,
send dispatches that retry until accepted, and read the sandbox's delivery counts."""
import json, os, subprocess, sys, threading, time, urllib.error, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ORDER = ('{"uuid":"%s","orderRefNo":"R","dailyQueueNo":"A1","storeUuid":"outlet-1","storeName":"S","deliveryMethod":"PICKUP",'
         '"status":"PAID","currency":"SGD","isPreorder":false,"items":[{"plu":"P","name":"Tea","quantity":1,"itemOnlyPrice":3.5,'
         '"modifierOnlyPrice":0,"itemPrice":3.5,"itemSubTotal":3.5,"modifiers":[]}],"subtotal":3.5,"discountTotal":0,'
         '"serviceCharge":0,"deliveryFee":0,"totalPay":3.5,"payment":{"amount":3.5,"tip":0,"method":"CASH"},'
         '"createdAt":"2026-11-22T10:00:00Z"}')
NETWORK_ERRORS = (urllib.error.URLError, ConnectionError, OSError, TimeoutError)


def request(url, method="GET", body=None, headers=None, timeout=10):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as response:
        return response.status, json.loads(response.read() or b"{}")


def wait_until(check, seconds, what):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if check():
                return True
        except NETWORK_ERRORS:
            pass
        time.sleep(0.1)
    print(f"timed out waiting for {what}", file=sys.stderr)
    return False


def build_release():
    """The release binary: POS_LOAD_BIN when set (another commit's build, to compare on one machine),
    else this checkout's, built first."""
    if os.environ.get("POS_LOAD_BIN"):
        return os.environ["POS_LOAD_BIN"]
    subprocess.run(["swift", "build", "-c", "release", "--product", "pos-integration"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(ROOT, ".build", "release", "pos-integration")


def start_server(binary, port, env, log):
    process = subprocess.Popen([binary, "serve", "--port", str(port)], env=env, stdout=log, stderr=log)
    if not wait_until(lambda: request(f"http://127.0.0.1:{port}/ready")[0] == 200, 30, f"the server on {port}"):
        sys.exit(1)
    return process


def prepare(binary, env, sandbox_port, base):
    """A tenant, a key and a webhook to the sandbox; returns the request headers."""
    subprocess.run([binary, "tenant", "create", "--subdomain", "load", "--name", "Load"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    key = json.loads(subprocess.run([binary, "key", "create", "--tenant", "load", "--scope", "internal", "--scope", "partner"],
                                    env=env, check=True, capture_output=True).stdout)["key"]
    headers = {"X-Api-Key": key, "Content-Type": "application/json"}
    request(base + "/api/v1/webhooks/register", "POST", json.dumps({
        "outletId": "outlet-1", "provider": "load", "callbackUrl": f"http://127.0.0.1:{sandbox_port}/webhook/load",
        "events": ["order.paid"]}).encode(), headers)
    return headers


def send_orders(count, clients, bases, headers, prefix):
    """Dispatches `count` orders from `clients` threads, client i starting on bases[i % n]; a client
    whose replica fails sends the same order again (same uuid) to the next. Returns (threads, accepted)."""
    accepted = set()
    lock = threading.Lock()
    numbers = iter(range(count))

    def client(index):
        target = index
        while True:
            with lock:
                n = next(numbers, None)
            if n is None:
                return
            body = ('{"outletId":"outlet-1","event":"order.paid","order":%s}' % (ORDER % f"{prefix}-{n}")).encode()
            for _ in range(600):
                base = bases[target % len(bases)]
                try:
                    status, reply = request(base + "/api/v1/orders/dispatch", "POST", body, headers, timeout=5)
                    if status == 200:
                        with lock:
                            accepted.add(reply["orderId"])
                        break
                except urllib.error.HTTPError:
                    time.sleep(0.1)  # 409: the first copy is still in flight somewhere
                except NETWORK_ERRORS:
                    target += 1
                    time.sleep(0.05)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    return threads, accepted


def counts(sandbox_port):
    return request(f"http://127.0.0.1:{sandbox_port}/webhook/received")[1]


def report(accepted, sandbox_port, seconds, what):
    wait_until(lambda: counts(sandbox_port)["unique"] >= len(accepted), 180, "the outbox to drain")
    seen = counts(sandbox_port)
    lost = max(0, len(accepted) - seen["unique"])
    rate = 100.0 * seen["duplicates"] / max(1, seen["unique"])
    print(f"accepted orders:  {len(accepted)} (in {seconds:.1f} s{what})")
    print(f"delivered:        {seen['unique']} unique deliveries ({seen['received']} requests)")
    print(f"lost:             {lost}")
    print(f"duplicates:       {seen['duplicates']} ({rate:.2f} % of deliveries; target <= 0.1 %)", flush=True)
    return lost
