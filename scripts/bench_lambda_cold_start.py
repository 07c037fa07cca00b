#!/usr/bin/env python3
"""Cold start of `capi-connector lambda`: process start to the first answered invocation.

Runs the binary as Lambda's provided.al2023 runtime does (named `bootstrap`, no arguments,
AWS_LAMBDA_RUNTIME_API set) against a stand-in of the Runtime API served by this script, N times,
each a fresh process. For each run it records:

  total     spawn -> the proxy response POSTed for the first invocation (what a caller waits for
            beyond API Gateway and Lambda's own environment start)
  store     the runtime's own figure (log line "lambda runtime ready", store_ms): reaching the
            state store and checking its migrations, i.e. the first PostgreSQL connection and its
            start-up queries (schema registration runs beside the first invocation)
  without   total - store: the cold start as if the connection were already open

The first invocation is a signed Standard Webhooks event (so it is validated, hashed and committed)
or, with --health, GET /healthz (no store work in the handler). Release build expected:

  swift build -c release --product capi-connector
  scripts/bench_lambda_cold_start.py --binary .build/release/capi-connector \\
      --state postgres://postgres@127.0.0.1:55432/postgres --runs 20
"""
import argparse, base64, hashlib, hmac, http.server, json, os, statistics, subprocess, sys, tempfile, threading, time

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def signed_event(index):
    body = json.dumps({
        "pixel_id": "555000111", "event_name": "Lead", "event_time": int(time.time()) - 10,
        "event_id": f"cold-{os.getpid()}-{index}-{time.time_ns()}", "action_source": "email",
        "user_data": {"em": f"cold-{index}@example.com"},
    }, separators=(",", ":"))
    msg_id, ts = f"msg_{time.time_ns()}", str(int(time.time()))
    key = base64.b64decode(SECRET[len("whsec_"):])
    sig = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.{body}".encode(), hashlib.sha256).digest()).decode()
    headers = {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": "v1," + sig}
    return {"version": "2.0", "rawPath": "/v1/events", "rawQueryString": "", "headers": headers,
            "requestContext": {"http": {"method": "POST", "sourceIp": "198.51.100.7"}, "stage": "$default"},
            "body": body, "isBase64Encoded": False}


HEALTH = {"path": "/healthz", "httpMethod": "GET", "requestContext": {"identity": {"sourceIp": "198.51.100.7"}}}


class RuntimeAPI(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # the held `next` of a killed process

    def arm(self, event):
        self.event, self.served, self.answered, self.answer = json.dumps(event).encode(), False, threading.Event(), None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        if server.served:  # the second `next`: hold it until the process is killed
            time.sleep(3600)
            return
        server.served = True
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", "req-1")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 500))  # too short to forward
        self.send_header("Content-Length", str(len(server.event)))
        self.end_headers()
        self.wfile.write(server.event)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.server.answer = (self.path, body)
        self.server.answered.set()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--state", required=True, help="postgres:// URL (lambda refuses SQLite)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--health", action="store_true", help="first invocation is GET /healthz")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="cold-start-")
    bootstrap = os.path.join(folder, "bootstrap")
    os.symlink(os.path.abspath(args.binary), bootstrap)
    server = RuntimeAPI(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {"PATH": os.environ.get("PATH", ""), "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
           "CAPI_STATE_URL": args.state, "CAPI_WEBHOOK_SECRET": SECRET, "META_PIXEL_ID": "555000111",
           "CAPI_GRAPH_URL": "http://127.0.0.1:9", "CAPI_LOG_LEVEL": "notice"}
    totals, stores = [], []
    for index in range(args.runs):
        server.arm(HEALTH if args.health else signed_event(index))
        log = os.path.join(folder, f"run-{index}.log")
        with open(log, "w") as stderr:
            started = time.perf_counter()
            process = subprocess.Popen([bootstrap], cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
            if not server.answered.wait(30):
                process.kill()
                sys.exit(f"run {index}: no answer within 30 s; see {log}")
            total = (time.perf_counter() - started) * 1000
            process.kill()
            process.wait()
        path, body = server.answer
        status = json.loads(body).get("statusCode") if path.endswith("/response") else None
        expected = 200 if args.health else 202
        if status != expected:
            sys.exit(f"run {index}: posted {path} with status {status}, expected {expected}; see {log}")
        store = None
        for line in open(log):
            entry = json.loads(line)
            if entry.get("message") == "lambda runtime ready":
                store = float(entry["store_ms"])
        totals.append(total)
        stores.append(store or 0.0)

    def summary(values):
        ordered = sorted(values)
        return f"median {statistics.median(ordered):7.1f} ms   p90 {ordered[int(0.9 * (len(ordered) - 1))]:7.1f} ms   min {ordered[0]:7.1f} ms"

    first = "GET /healthz" if args.health else "a signed event (validated, hashed, committed)"
    print(f"cold start, {args.runs} fresh processes, first invocation: {first}")
    print(f"  total (spawn -> response posted)       {summary(totals)}")
    print(f"  first PostgreSQL connection + check    {summary(stores)}")
    print(f"  without it (total - store)             {summary([t - s for t, s in zip(totals, stores)])}")


if __name__ == "__main__":
    main()
