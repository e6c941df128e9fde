#!/usr/bin/env python3
# `dcllm serve` on loopback with a real HTTP client (the standard library's http.client and raw
# sockets): every endpoint, streaming, concurrency, a client that goes away, and bad requests.
# Usage: serve_test.py DCLLM SHARED_DATA [SMOLLM2_GGUF]. Exit 0 when every check passes.
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

DCLLM, DATA = sys.argv[1], sys.argv[2]
SMOLLM2 = sys.argv[3] if len(sys.argv) > 3 else ""
MAX_TOKENS = 64  # the server's --max-tokens
failures = []
passed = 0


def check(cond, what):
    global passed
    if cond:
        passed += 1
    else:
        failures.append(what)
        print("FAIL:", what, flush=True)


class Server:
    """A `dcllm serve` process on a free port; its stderr is drained into self.log."""

    def __init__(self, args):
        self.proc = subprocess.Popen([DCLLM, "serve", *args, "--port", "0"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.log = []
        self.port = None
        ready = threading.Event()

        def drain():
            for line in self.proc.stderr:
                self.log.append(line)
                if self.port is None and "listening on http://" in line:
                    self.port = int(line.split("listening on http://")[1].split()[0].split(":")[1])
                    ready.set()
            ready.set()

        threading.Thread(target=drain, daemon=True).start()
        if not ready.wait(120) or self.port is None:
            self.proc.kill()
            raise SystemExit("serve did not start:\n" + "".join(self.log))

    def request(self, method, path, body=None, raw=None, timeout=120):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        headers = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        text = resp.read().decode("utf-8", "replace")
        conn.close()
        return resp.status, resp.getheader("Content-Type") or "", text

    def json(self, method, path, body=None, raw=None):
        status, _, text = self.request(method, path, body, raw)
        try:
            return status, json.loads(text)
        except ValueError:
            return status, {"unparsed": text}

    def stream(self, path, body):
        """POSTs with stream: true; returns (status, [parsed events], saw_done_last)."""
        status, ctype, text = self.request("POST", path, dict(body, stream=True))
        events, done_last = [], False
        for block in text.split("\n\n"):
            if not block.strip():
                continue
            check(block.startswith("data: "), "SSE block starts with 'data: ': " + block[:80])
            payload = block[len("data: "):]
            if payload == "[DONE]":
                done_last = True
                continue
            check(not done_last, "nothing after data: [DONE]")
            events.append(json.loads(payload))
        check("text/event-stream" in ctype, "stream Content-Type is text/event-stream: " + ctype)
        return status, events, done_last

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None


def is_error(obj, code=None):
    err = obj.get("error") if isinstance(obj, dict) else None
    ok = isinstance(err, dict) and isinstance(err.get("message"), str) and "type" in err
    return ok and (code is None or err.get("code") == code)


def test_stories260k():
    s = Server([f"{DATA}/stories260K.bin", "--tokenizer", f"{DATA}/tok512.bin",
                "--max-tokens", str(MAX_TOKENS), "--max-queue", "8"])
    try:
        status, h = s.json("GET", "/health")
        check(status == 200 and h.get("status") == "ok", f"/health ok: {status} {h}")
        status, m = s.json("GET", "/v1/models")
        check(status == 200 and m.get("object") == "list" and
              m["data"][0]["id"] == "stories260K.bin", f"/v1/models lists the model: {m}")
        # stories260K carries no chat template and no chat tokens: the plain fallback.
        check(m["data"][0].get("chat_template") == "plain", f"plain chat fallback: {m}")

        req = {"model": "stories260K.bin", "prompt": "Once upon a time", "max_tokens": 24,
               "temperature": 0}
        status, c = s.json("POST", "/v1/completions", req)
        check(status == 200, f"completion 200: {status} {c}")
        text = c["choices"][0]["text"]
        check(c["object"] == "text_completion" and len(text) > 0, f"completion text: {c}")
        check(0 < c["usage"]["completion_tokens"] <= 24, f"usage bounded: {c['usage']}")
        check(c["choices"][0]["finish_reason"] in ("stop", "length"), "finish_reason")
        status, again = s.json("POST", "/v1/completions", req)
        check(again["choices"][0]["text"] == text, "greedy completion repeats exactly")
        status, noname = s.json("POST", "/v1/completions", {k: v for k, v in req.items()
                                                             if k != "model"})
        check(status == 200 and noname["choices"][0]["text"] == text, "model may be omitted")

        # Chat: the plain fallback renders the user's text alone, so the reply is the same
        # greedy continuation (decoded as a fresh text: no leading space).
        chat = {"messages": [{"role": "user", "content": "Once upon a time"}],
                "max_tokens": 24, "temperature": 0}
        status, cc = s.json("POST", "/v1/chat/completions", chat)
        check(status == 200 and cc["object"] == "chat.completion", f"chat 200: {status} {cc}")
        reply = cc["choices"][0]["message"]["content"]
        check(cc["choices"][0]["message"]["role"] == "assistant", "chat role")
        check(reply == (text[1:] if text.startswith(" ") else text),
              f"plain chat == completion: {reply!r} vs {text!r}")

        # Streaming: the chunks add up to the non-streamed text, then [DONE].
        status, events, done = s.stream("/v1/completions", req)
        streamed = "".join(e["choices"][0]["text"] for e in events)
        check(status == 200 and done, "completion stream ends with data: [DONE]")
        check(streamed == text, f"streamed == non-streamed: {streamed!r} vs {text!r}")
        check(events[-1]["choices"][0]["finish_reason"] in ("stop", "length"),
              "last chunk has the finish reason")
        check(all(e["choices"][0]["finish_reason"] is None for e in events[:-1]),
              "earlier chunks have none")
        status, events, done = s.stream("/v1/chat/completions",
                                        dict(chat, stream_options={"include_usage": True}))
        check(status == 200 and done, "chat stream ends with data: [DONE]")
        check(events[0]["choices"][0]["delta"].get("role") == "assistant", "first delta: role")
        body = [e for e in events if e["choices"]]
        streamed = "".join(e["choices"][0]["delta"].get("content", "") for e in body)
        check(streamed == reply, f"chat stream == chat reply: {streamed!r}")
        check(events[-1]["choices"] == [] and "usage" in events[-1], "usage chunk last")

        # Four requests at once (two streamed): all succeed with the sequential answer, so the
        # queue kept them from sharing the KV cache.
        results = [None] * 4

        def worker(k):
            if k % 2:
                st, ev, dn = s.stream("/v1/completions", req)
                results[k] = (st, "".join(e["choices"][0]["text"] for e in ev) if dn else None)
            else:
                st, obj = s.json("POST", "/v1/completions", req)
                results[k] = (st, obj["choices"][0]["text"] if st == 200 else None)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        check(all(r == (200, text) for r in results), f"4 concurrent requests: {results}")

        # A client that goes away mid-stream: its request waits behind a long one, and the
        # socket is closed before any event arrives. The stream's writes then fail, which
        # cancels it; the server carries on.
        _, before = s.json("GET", "/health")
        long_req = dict(req, max_tokens=MAX_TOKENS, prompt="Once")
        blocker = threading.Thread(target=s.json, args=("POST", "/v1/completions", long_req))
        blocker.start()
        time.sleep(0.05)
        body = json.dumps(dict(long_req, stream=True)).encode()
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     b"application/json\r\nContent-Length: " + str(len(body)).encode() +
                     b"\r\n\r\n" + body)
        sock.close()
        blocker.join(120)
        deadline, after = time.time() + 30, before
        while time.time() < deadline and after["finished"] < before["finished"] + 2:
            time.sleep(0.1)
            _, after = s.json("GET", "/health")
        check(after["finished"] >= before["finished"] + 2, f"both requests ended: {after}")
        check(after["cancelled"] >= before["cancelled"] + 1, f"the stream was cancelled: {after}")
        status, c2 = s.json("POST", "/v1/completions", req)
        check(status == 200 and c2["choices"][0]["text"] == text, "healthy after a disconnect")

        # Bad requests get OpenAI-style error objects.
        status, e = s.json("POST", "/v1/completions", raw='{"prompt": "Once upon')
        check(status == 400 and is_error(e), f"malformed JSON -> 400: {status} {e}")
        status, e = s.json("POST", "/v1/chat/completions", raw="[]")
        check(status == 400 and is_error(e), f"non-object body -> 400: {status} {e}")
        status, e = s.json("POST", "/v1/chat/completions", {"messages": [{"role": "x"}]})
        check(status == 400 and is_error(e), f"bad role -> 400: {status} {e}")
        status, e = s.json("POST", "/v1/completions", dict(req, model="gpt-4"))
        check(status == 404 and is_error(e, "model_not_found"), f"unknown model -> 404: {e}")
        status, e = s.json("GET", "/v1/models/gpt-4")
        check(status == 404 and is_error(e, "model_not_found"), f"unknown model id -> 404: {e}")
        status, e = s.json("GET", "/v1/nothing")
        check(status == 404 and is_error(e), f"unknown path -> 404: {status} {e}")
        status, e = s.json("POST", "/v1/completions", {"prompt": [5] * 600})
        check(status == 400 and is_error(e, "context_length_exceeded"), f"too long: {e}")
        try:
            status, e = s.json("POST", "/v1/completions",
                               raw=json.dumps({"prompt": "x" * (2 << 20)}))
            check(status == 413 and is_error(e, "request_too_large"), f"2 MiB body -> 413: {e}")
        except (BrokenPipeError, ConnectionResetError) as err:
            check(False, f"2 MiB body: the connection broke instead of a 413 ({err})")
        status, big = s.json("POST", "/v1/completions", dict(req, max_tokens=100000,
                                                              prompt="Once"))
        check(status == 200 and big["usage"]["completion_tokens"] <= MAX_TOKENS,
              f"max_tokens capped at --max-tokens: {big.get('usage')}")
        status, h = s.json("GET", "/health")
        check(status == 200 and h["status"] == "ok", "healthy at the end")
    finally:
        code = s.stop()
    check(code == 0, f"SIGTERM stops the server with exit 0 (got {code})\n" + "".join(s.log))


def test_smollm2_chat():
    s = Server([SMOLLM2, "--max-tokens", "48", "--ctx", "512"])
    try:
        status, m = s.json("GET", "/v1/models")
        check(m["data"][0]["chat_template"] == "chatml", f"SmolLM2 template is ChatML: {m}")
        chat = {"messages": [{"role": "user", "content": "What is the capital of France?"}],
                "temperature": 0}
        status, cc = s.json("POST", "/v1/chat/completions", chat)
        reply = cc["choices"][0]["message"]["content"] if status == 200 else ""
        check(status == 200 and len(reply.strip()) > 0, f"SmolLM2 answers: {status} {cc}")
        check("Paris" in reply, f"SmolLM2 knows Paris: {reply!r}")
        check(cc["choices"][0]["finish_reason"] == "stop" and "<|im_end|>" not in reply,
              f"the reply ends at <|im_end|>: {cc}")
    finally:
        s.stop()


test_stories260k()
if SMOLLM2 and os.path.exists(SMOLLM2):
    test_smollm2_chat()
else:
    print("skipped the SmolLM2 chat check (no model given)")
print(f"{passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
