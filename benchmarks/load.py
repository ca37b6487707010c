"""Load: simulated users call the running app through gradio_client.

Two phases against one app process this script starts on 127.0.0.1:
1. asks only: 1, 5 and 20 users, each sending ``--asks`` questions one after another (p50/p95, asks/s);
2. mixed: ``--users`` users for ``--seconds`` (70% asks, 27% grades, 3% transcriptions): latency per
   endpoint under that load, failures (queue-full answers counted apart) and the app's peak memory.

Asks and grades go to the REST routes (``POST /gradio_api/run/ask``), as a script or ``curl`` would send
them; recordings go through gradio_client, which uploads the file. The clients run on the same 2 cores as
the app, so the figures include their cost.

    python benchmarks/load.py [--asks 10] [--users 20] [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def call(session, url: str, name: str, *data) -> object:
    """One request to the app's REST route for an API endpoint (what ``curl`` would send)."""
    response = session.post(f"{url}gradio_api/run/{name}", json={"data": list(data)}, timeout=120)
    response.raise_for_status()
    return response.json()["data"][0]


def user(url: str, deadline: float, seed: int, wav: str, results: list, lock: threading.Lock) -> None:
    import httpx
    from gradio_client import Client, handle_file

    rng = random.Random(seed)
    data = json.loads((ROOT / "benchmarks/data/retrieval_test.json").read_text())["in_scope"]
    grading = json.loads((ROOT / "benchmarks/data/grading_pytorch.json").read_text())["questions"]
    client = Client(url, verbose=False)  # uploads the recording for /transcribe
    session = httpx.Client()
    while time.monotonic() < deadline:
        roll = rng.random()
        started = time.perf_counter()
        try:
            if roll < 0.70:
                kind = "ask"
                call(session, url, "ask", rng.choice(data)["q"], [])
            elif roll < 0.97:
                kind = "grade"
                case = rng.choice(grading)
                call(session, url, "grade", case["question"], case[rng.choice(["excellent", "partial"])])
            else:
                kind = "transcribe"
                client.predict(handle_file(wav), api_name="/transcribe")
            outcome = "ok"
        except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
            outcome = "queue full" if "queue" in str(exc).lower() and "full" in str(exc).lower() else f"error: {exc}"
        with lock:
            results.append((kind, time.perf_counter() - started, outcome))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * (len(ordered) - 1)))] if ordered else float("nan")


def ask_phase(url: str, users: int, asks: int) -> tuple[list[float], float, int]:
    """``users`` clients each asking ``asks`` questions in turn: (latencies, wall seconds, failures)."""
    import httpx

    questions = [c["q"] for c in json.loads((ROOT / "benchmarks/data/retrieval_test.json").read_text())["in_scope"]]
    clients = [httpx.Client() for _ in range(users)]
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    start = threading.Barrier(users + 1)

    def run(n: int) -> None:
        start.wait()
        for k in range(asks):
            began = time.perf_counter()
            try:
                call(clients[n], url, "ask", questions[(n * asks + k) % len(questions)], [])
                with lock:
                    latencies.append(time.perf_counter() - began)
            except Exception:  # noqa: BLE001 - counted and reported
                with lock:
                    failures[0] += 1

    threads = [threading.Thread(target=run, args=(n,)) for n in range(users)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - began, failures[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--asks", type=int, default=10, help="asks per user in the asks-only phase")
    parser.add_argument("--users", type=int, default=20, help="users in the mixed phase")
    parser.add_argument("--seconds", type=float, default=60, help="length of the mixed phase")
    args = parser.parse_args()
    from tutor import synth

    with tempfile.TemporaryDirectory() as folder:
        wav = str(synth.speak("Max pooling keeps the largest value in each window of the feature map.",
                              Path(folder) / "answer.wav"))
        port = free_port()
        env = {**os.environ, "TUTOR_INDEX_DIR": str(ROOT / "index")}
        log = open(Path(folder) / "app.log", "w")  # noqa: SIM115
        app = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--data-dir", str(Path(folder) / "d")],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/"
        for _ in range(180):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(1)
        ask_rows = []
        for users in (1, 5, 20):
            latencies, wall, failed = ask_phase(url, users, args.asks)
            ask_rows.append((users, len(latencies), failed, statistics.median(latencies) * 1000,
                             percentile(latencies, 0.95) * 1000, len(latencies) / wall))
        results: list = []
        lock = threading.Lock()
        deadline = time.monotonic() + args.seconds
        threads = [threading.Thread(target=user, args=(url, deadline, n, wav, results, lock))
                   for n in range(args.users)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=args.seconds + 300)
        elapsed = time.perf_counter() - started
        rss = peak_rss_mb(app.pid)
        app.terminate()
        app.wait(timeout=30)

    print(f"Asks only, each user sending {args.asks} questions in turn, one app process on 2 CPU cores:\n")
    print("| users | asks | failed | p50 (ms) | p95 (ms) | asks/s |\n|---|---|---|---|---|---|")
    for users, done, failed, p50, p95, rate in ask_rows:
        print(f"| {users} | {done} | {failed} | {p50:.0f} | {p95:.0f} | {rate:.1f} |")
    print(f"\nMixed: {args.users} users for {args.seconds:.0f} s against one app process on 2 CPU cores: "
          f"{len(results)} requests, {len(results) / elapsed:.1f}/s\n")
    print("| endpoint | requests | failed | queue full | p50 (ms) | p95 (ms) |\n|---|---|---|---|---|---|")
    for kind in ("ask", "grade", "transcribe"):
        rows = [r for r in results if r[0] == kind]
        ok = sorted(r[1] for r in rows if r[2] == "ok")
        failed = [r for r in rows if r[2].startswith("error")]
        full = [r for r in rows if r[2] == "queue full"]
        p50 = statistics.median(ok) * 1000 if ok else float("nan")
        p95 = percentile(ok, 0.95) * 1000
        print(f"| {kind} | {len(rows)} | {len(failed)} | {len(full)} | {p50:.0f} | {p95:.0f} |")
        for _, _, outcome in failed[:3]:
            print(f"    {outcome[:200]}")
    print(f"\nPeak RSS of the app process: {rss:.0f} MB")


if __name__ == "__main__":
    main()
