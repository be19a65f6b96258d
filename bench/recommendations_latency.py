"""Benchmark: latency of POST /v1/recommendations against an authenticated trivial route.

    .venv/bin/python bench/recommendations_latency.py           # full run, writes the JSON
    .venv/bin/python bench/recommendations_latency.py --quick   # short run, prints only

The real app runs under uvicorn on 127.0.0.1 (a free port) on an SQLite file in a
temporary directory, migrated and seeded with the built-in CIVIC frameworks; a
clinician API key is created before it starts. 32 asyncio clients (httpx, one
connection each) then send requests back to back - a closed loop, so latency includes
queueing behind the other 31 - for a bounded number of requests or seconds per round;
the same is then measured with one client, which shows what a request itself costs.
Each round measures, one after the other, the baseline ``GET /v1/me`` (key lookup,
one row read, commit) and ``POST /v1/recommendations`` on a rotation of CIVIC v2
assessments (a full assessment with every domain in need, a partial one with Stigma
and a declined domain, one with preferences that remove components); every response
must be 200. Medians over rounds of each round's p50, p99 and throughput are written to
bench/results/recommendations_latency.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service import migrate, seed  # noqa: E402
from service.auth import service as auth_service  # noqa: E402
from service.auth.models import Role  # noqa: E402
from service.config import Settings  # noqa: E402
from service.db import create_db_engine, make_sessionmaker  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "recommendations_latency.json"
FULL = {"clients": 32, "requests": 3000, "seconds": 30.0, "rounds": 5, "warmup": 300,
        "single_client_requests": 300}  # fmt: skip
QUICK = {"clients": 32, "requests": 600, "seconds": 10.0, "rounds": 2, "warmup": 100,
         "single_client_requests": 100}  # fmt: skip
DOMAINS = ["1", "1.1", "1.2", "2", "2.1", "3", "4", "4.1", "4.2", "5", "5.1", "5.2", "7", "7.1"]
ASSESSMENTS = [
    {"framework": "civic", "version": "2", "needs": dict.fromkeys(DOMAINS, "high")},
    {
        "framework": "civic",
        "version": "2",
        "needs": {"1": "high", "2": "moderate", "3": "low", "5": 2},
        "barriers": ["6"],
        "preferences": {"declined_domains": ["3"], "format": "one_to_one"},
    },
    {
        "framework": "civic",
        "version": "2",
        "needs": {"4": 3, "7.1": 1, "7.2": 1, "1": 3, "2.1": 2},
        "preferences": {"spiritual_beliefs_important": False, "format": "no_group"},
        "context": {"weeks_available": 6},
    },
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_database(url: str) -> str:
    """Migrate, seed, and create a clinician key; returns the key."""
    settings = Settings(database_url=url, log_level="WARNING")
    migrate.upgrade(settings)
    engine = create_db_engine(settings)
    with make_sessionmaker(engine)() as session:
        seed.load_builtin(session=session)
        _, key = auth_service.create_key(session=session, name="bench", role=Role.clinician)
        session.commit()
    engine.dispose()
    return key


@contextlib.contextmanager
def server(url: str, port: int):
    env = {**os.environ, "CIVIC_DATABASE_URL": url, "CIVIC_LOG_LEVEL": "WARNING"}
    command = [
        sys.executable, "-m", "uvicorn", "service.main:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


async def measure(base: str, key: str, target: str, cfg: dict, n: int) -> dict:
    """``n`` requests (or ``cfg['seconds']``) from ``cfg['clients']`` concurrent clients."""
    headers = {"Authorization": f"Bearer {key}"}
    latencies: list[float] = []
    sent = 0
    deadline = time.perf_counter() + cfg["seconds"]

    async def client(worker: int) -> None:
        nonlocal sent
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(
            base_url=base, headers=headers, limits=limits, timeout=60.0
        ) as http:
            while sent < n and time.perf_counter() < deadline:
                i = sent
                sent += 1
                started = time.perf_counter()
                if target == "me":
                    response = await http.get("/v1/me")
                else:
                    body = ASSESSMENTS[(i + worker) % len(ASSESSMENTS)]
                    response = await http.post("/v1/recommendations", json=body)
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    raise RuntimeError(f"{target}: {response.status_code} {response.text[:200]}")
                latencies.append(elapsed)

    started = time.perf_counter()
    await asyncio.gather(*(client(w) for w in range(cfg["clients"])))
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "p50_ms": round(1000 * latencies[len(latencies) // 2], 2),
        "p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
        "max_ms": round(1000 * latencies[-1], 2),
        "throughput_rps": round(len(latencies) / wall, 1),
    }


async def run(base: str, key: str, cfg: dict) -> dict:
    for target in ("me", "recommend"):  # warm up connections, caches and the pool
        await measure(base, key, target, cfg, cfg["warmup"])
    alone = {**cfg, "clients": 1}
    rounds = []
    for i in range(cfg["rounds"]):
        row = {
            "me": await measure(base, key, "me", cfg, cfg["requests"]),
            "recommend": await measure(base, key, "recommend", cfg, cfg["requests"]),
            "me_1_client": await measure(base, key, "me", alone, cfg["single_client_requests"]),
            "recommend_1_client": await measure(
                base, key, "recommend", alone, cfg["single_client_requests"]
            ),
        }
        rounds.append(row)
        print(f"round {i + 1}: " + json.dumps(row), flush=True)
    summary = {
        target: {
            stat: statistics.median(r[target][stat] for r in rounds)
            for stat in ("p50_ms", "p99_ms", "max_ms", "throughput_rps")
        }
        for target in rounds[0]
    }
    return {"rounds": rounds, "median": summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run; print, do not write")
    args = parser.parse_args()
    cfg = QUICK if args.quick else FULL
    load_at_start = os.getloadavg()  # the cores are shared: say how busy they were
    with tempfile.TemporaryDirectory(prefix="civic-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'civic.db'}"
        key = prepare_database(url)
        port = free_port()
        with server(url, port):
            result = asyncio.run(run(f"http://127.0.0.1:{port}", key, cfg))
    target_ms = 20.0
    p99 = result["median"]["recommend"]["p99_ms"]
    report = {
        "command": "bench/recommendations_latency.py" + (" --quick" if args.quick else ""),
        "mode": "quick" if args.quick else "full",
        "machine": {
            "python": platform.python_version(),
            "processor": platform.machine(),
            "cpus": os.cpu_count(),
        },
        "config": cfg,
        "server": "uvicorn, 1 worker, SQLite (WAL), client and server on the same machine",
        "endpoints": {
            "me": "GET /v1/me (authenticated baseline), 32 concurrent clients",
            "recommend": "POST /v1/recommendations (3 CIVIC v2 assessments in rotation), "
            "32 concurrent clients",
            "*_1_client": "the same with one client: the time a request itself takes",
        },
        "load_average": {"start": load_at_start, "end": os.getloadavg()},
        **result,
        "recommend_minus_me_p50_ms": round(
            result["median"]["recommend"]["p50_ms"] - result["median"]["me"]["p50_ms"], 2
        ),
        "target": {"p99_ms": target_ms, "met": p99 < target_ms},
    }
    print(json.dumps(report["median"], indent=2))
    print(f"recommend p99 {p99} ms; target {target_ms} ms met: {p99 < target_ms}")
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
        print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
