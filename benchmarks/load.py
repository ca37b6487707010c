"""Load: simulated users call the running app through gradio_client (asks, grades, a few transcriptions)
for a bounded time. Reports requests, failures (queue-full answers counted apart), latency per endpoint
and the app's peak memory (VmHWM of its process).

Traffic goes only to the app this script starts on 127.0.0.1.

    python benchmarks/load.py [--users 20] [--seconds 60]
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


def user(url: str, deadline: float, seed: int, wav: str, results: list, lock: threading.Lock) -> None:
    from gradio_client import Client, handle_file

    rng = random.Random(seed)
    data = json.loads((ROOT / "benchmarks/data/retrieval_test.json").read_text())["in_scope"]
    grading = json.loads((ROOT / "benchmarks/data/grading_pytorch.json").read_text())["questions"]
    client = Client(url, verbose=False)
    while time.monotonic() < deadline:
        roll = rng.random()
        started = time.perf_counter()
        try:
            if roll < 0.70:
                kind = "ask"
                client.predict(rng.choice(data)["q"], [], api_name="/ask")
            elif roll < 0.97:
                kind = "grade"
                case = rng.choice(grading)
                client.predict(case["question"], case[rng.choice(["excellent", "partial"])], api_name="/grade")
            else:
                kind = "transcribe"
                client.predict(handle_file(wav), api_name="/transcribe")
            outcome = "ok"
        except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
            outcome = "queue full" if "queue" in str(exc).lower() and "full" in str(exc).lower() else f"error: {exc}"
        with lock:
            results.append((kind, time.perf_counter() - started, outcome))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
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

    print(f"{args.users} users for {args.seconds:.0f} s against one app process on 2 CPU cores: "
          f"{len(results)} requests, {len(results) / elapsed:.1f}/s\n")
    print("| endpoint | requests | failed | queue full | p50 (ms) | p95 (ms) |\n|---|---|---|---|---|---|")
    for kind in ("ask", "grade", "transcribe"):
        rows = [r for r in results if r[0] == kind]
        ok = sorted(r[1] for r in rows if r[2] == "ok")
        failed = [r for r in rows if r[2].startswith("error")]
        full = [r for r in rows if r[2] == "queue full"]
        p50 = statistics.median(ok) * 1000 if ok else float("nan")
        p95 = ok[min(len(ok) - 1, int(0.95 * (len(ok) - 1)))] * 1000 if ok else float("nan")
        print(f"| {kind} | {len(rows)} | {len(failed)} | {len(full)} | {p50:.0f} | {p95:.0f} |")
        for _, _, outcome in failed[:3]:
            print(f"    {outcome[:200]}")
    print(f"\nPeak RSS of the app process: {rss:.0f} MB")


if __name__ == "__main__":
    main()
