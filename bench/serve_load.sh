#!/usr/bin/env bash
# Bounded load test of `dcllm serve` on loopback: N completion requests at concurrency 1 (the
# baseline, same server process) and at concurrency C, then /health latency while C requests
# run; with `hey` installed (Debian package hey) also one hey run. Prints ratios and latencies.
# Usage: bench/serve_load.sh [MODEL [serve args...]]   (default: ../shared/data/stories260K.bin)
# Env: REQUESTS (default 64), CONCURRENCY (4), MAX_TOKENS (32), TIME_LIMIT seconds per phase (60),
#      DCLLM (the binary; default build/dcllm).
set -euo pipefail
cd "$(dirname "$0")/.."
data=../shared/data
dcllm="${DCLLM:-build/dcllm}"
if [ $# -eq 0 ]; then
  set -- "$data/stories260K.bin" --tokenizer "$data/tok512.bin"
fi
requests="${REQUESTS:-64}" concurrency="${CONCURRENCY:-4}" max_tokens="${MAX_TOKENS:-32}"
limit="${TIME_LIMIT:-60}"

log="$(mktemp)"
"$dcllm" serve "$@" --port 0 --quiet --max-queue $((concurrency * 2)) 2>"$log" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -f "$log"' EXIT
port=""
for _ in $(seq 600); do
  port="$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$log")"
  [ -n "$port" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "serve_load: the server did not start" >&2; cat "$log"; exit 1; }
echo "serve_load: $* on port $port; $requests requests, max_tokens $max_tokens; $(uptime)"

python3 - "$port" "$requests" "$concurrency" "$max_tokens" "$limit" <<'EOF'
import http.client, json, statistics, sys, threading, time

port, n, conc, max_tokens, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
body = json.dumps({"prompt": "Once upon a time", "max_tokens": max_tokens, "temperature": 0})

def one(path="/v1/completions", payload=body):
    t0 = time.perf_counter()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=limit)
    if payload is None:
        c.request("GET", path)
    else:
        c.request("POST", path, payload, {"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    tokens = json.loads(data)["usage"]["completion_tokens"] if payload and r.status == 200 else 0
    return r.status, time.perf_counter() - t0, tokens

def phase(c):
    lat, toks, bad, lock, left = [], [0], [0], threading.Lock(), [n]
    deadline = time.perf_counter() + limit
    def worker():
        while time.perf_counter() < deadline:
            with lock:
                if left[0] == 0: return
                left[0] -= 1
            st, dt, tk = one()
            with lock:
                if st == 200: lat.append(dt); toks[0] += tk
                else: bad[0] += 1
    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker) for _ in range(c)]
    for t in ts: t.start()
    for t in ts: t.join()
    wall = time.perf_counter() - t0
    lat.sort()
    return {"ok": len(lat), "errors": bad[0], "wall_s": wall, "req_per_s": len(lat) / wall,
            "tok_per_s": toks[0] / wall, "p50_ms": 1e3 * lat[len(lat) // 2] if lat else 0,
            "p95_ms": 1e3 * lat[min(len(lat) - 1, int(len(lat) * 0.95))] if lat else 0}

one()  # warm-up
base = phase(1)
load = phase(conc)
# /health while `conc` completions keep the model busy: answered by another worker thread.
stop, health = [False], []
def busy():
    while not stop[0]: one()
bg = [threading.Thread(target=busy) for _ in range(conc)]
for t in bg: t.start()
time.sleep(0.2)
for _ in range(20):
    health.append(one("/health", None)[1]); time.sleep(0.02)
stop[0] = True
for t in bg: t.join()
health.sort()
for name, p in (("concurrency 1", base), (f"concurrency {conc}", load)):
    print(f"{name:>15}: {p['ok']} ok, {p['errors']} errors, {p['req_per_s']:.1f} req/s, "
          f"{p['tok_per_s']:.0f} tok/s, latency p50 {p['p50_ms']:.0f} ms, p95 {p['p95_ms']:.0f} ms")
print(f"throughput ratio (concurrency {conc} / 1): {load['req_per_s'] / base['req_per_s']:.2f} "
      f"(one generation at a time: about 1, a little more where HTTP and tokenization overlap a generation; latency grows with the queue)")
print(f"/health under load: p50 {1e3 * health[len(health) // 2]:.1f} ms, max {1e3 * health[-1]:.1f} ms")
EOF

if command -v hey >/dev/null; then
  echo "hey -n $requests -c $concurrency (POST /v1/completions):"
  hey -n "$requests" -c "$concurrency" -t "$limit" -m POST -T application/json \
    -d "{\"prompt\": \"Once upon a time\", \"max_tokens\": $max_tokens, \"temperature\": 0}" \
    "http://127.0.0.1:$port/v1/completions" | sed -n '/Summary:/,/Requests\/sec/p;/Status code distribution:/,/^$/p'
else
  echo "(hey not installed: apt-get install hey for a second opinion)"
fi
