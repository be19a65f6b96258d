"""Benchmark: latency of POST /v1/recommendations against an authenticated trivial route.

    .venv/bin/python bench/recommendations_latency.py           # full run, writes the JSON
    .venv/bin/python bench/recommendations_latency.py --quick   # short run, prints only
    .venv/bin/python bench/recommendations_latency.py --database sqlite --workers 1

The real app runs under uvicorn (2 workers by default) on 127.0.0.1, on each database
in turn: the embedded SQLite file and PostgreSQL (a throwaway database on the local
server), migrated and seeded with the built-in CIVIC frameworks, with a clinician key.
32 clients, one kept-alive connection each, then load it in two ways:

* open loop (what the latency target is read against): the 32 clients together send
  at a fixed offered rate, each on a Poisson schedule, as independent EHR sessions and
  apps do. Latency is measured from each request's *scheduled* start, so a slow
  server cannot hide its queueing by delaying the next send (no coordinated
  omission). Several offered rates are measured; the report names the highest rate
  at which the recommendation p99 stays under the target.
* closed loop (what saturation looks like): the 32 clients send back to back, so
  latency is mostly queueing behind the other 31 and throughput is the ceiling; the
  same with one client shows what a request itself costs.

Each measurement compares ``POST /v1/recommendations`` (a rotation of three CIVIC v2
assessments: every domain in need; Stigma with a declined domain; preferences that
remove components) with the baseline ``GET /v1/me`` (key lookup, one row read) of the
same app in the same run; every response must be 200. The load generator
(``http_load``) shares the two cores with the server, so it is kept lean. Medians over
rounds go to bench/results/recommendations_latency.json.
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
import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from http_load import Client, Response, encode_request  # noqa: E402

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
# Offered rates (requests per second, all 32 clients together) and seconds per rate.
OPEN_LOOP = {"rates": [25, 50, 100, 150, 200], "seconds": 15.0, "rounds": 3}
OPEN_LOOP_QUICK = {"rates": [50, 100], "seconds": 5.0, "rounds": 1}
TARGET_P99_MS = 20.0
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
def server(url: str, port: int, workers: int):
    env = {**os.environ, "CIVIC_DATABASE_URL": url, "CIVIC_LOG_LEVEL": "WARNING"}
    command = [
        sys.executable, "-m", "uvicorn", "service.main:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
        "--workers", str(workers),
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


class Target:
    """The encoded requests of one endpoint, sent in rotation."""

    def __init__(self, name: str, port: int, key: str) -> None:
        host = f"127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {key}"}
        if name == "me":
            self.requests = [encode_request("GET", "/v1/me", host=host, headers=auth)]
        else:
            json_headers = {**auth, "Content-Type": "application/json"}
            self.requests = [
                encode_request("POST", "/v1/recommendations", host=host, headers=json_headers,
                               body=json.dumps(a).encode())
                for a in ASSESSMENTS
            ]  # fmt: skip
        self.name = name

    def request(self, i: int) -> bytes:
        return self.requests[i % len(self.requests)]

    def check(self, response: Response) -> None:
        if response.status != 200:
            raise RuntimeError(f"{self.name}: {response.status} {response.body[:200]!r}")


async def connect(port: int, clients: int) -> list[Client]:
    connected = [Client("127.0.0.1", port) for _ in range(clients)]
    for client in connected:
        await client.connect()
    return connected


async def measure(port: int, target: Target, clients: int, n: int, seconds: float) -> dict:
    """Closed loop: ``clients`` clients send back to back, ``n`` requests in all (or
    until ``seconds`` pass)."""
    connections = await connect(port, clients)
    latencies: list[float] = []
    sent = 0
    deadline = time.perf_counter() + seconds

    async def client(worker: int, connection: Client) -> None:
        nonlocal sent
        while sent < n and time.perf_counter() < deadline:
            i = sent
            sent += 1
            started = time.perf_counter()
            response = await connection.send(target.request(i + worker))
            latencies.append(time.perf_counter() - started)
            target.check(response)

    started = time.perf_counter()
    try:
        await asyncio.gather(*(client(w, c) for w, c in enumerate(connections)))
    finally:
        for connection in connections:
            connection.close()
    return _percentiles(latencies, time.perf_counter() - started)


def _percentiles(latencies: list[float], wall: float) -> dict:
    latencies = sorted(latencies)
    return {
        "requests": len(latencies),
        "p50_ms": round(1000 * latencies[len(latencies) // 2], 2),
        "p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
        "max_ms": round(1000 * latencies[-1], 2),
        "throughput_rps": round(len(latencies) / wall, 1),
    }


async def measure_open_loop(
    port: int, target: Target, *, clients: int, rate: float, seconds: float, seed: int
) -> dict:
    """``clients`` concurrent clients sending, together, ``rate`` requests per second on
    Poisson schedules for ``seconds``. Latency counts from the scheduled start."""
    import random

    connections = await connect(port, clients)  # before the clock starts
    latencies: list[float] = []
    start = time.perf_counter() + 0.05

    async def client(worker: int, connection: Client) -> None:
        rng = random.Random(seed * 1000 + worker)
        scheduled, i = start + rng.expovariate(rate / clients), 0
        while scheduled < start + seconds:
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            response = await connection.send(target.request(i + worker))
            latencies.append(time.perf_counter() - scheduled)
            target.check(response)
            scheduled += rng.expovariate(rate / clients)
            i += 1

    try:
        await asyncio.gather(*(client(w, c) for w, c in enumerate(connections)))
    finally:
        for connection in connections:
            connection.close()
    return _percentiles(latencies, seconds)


async def run_open_loop(port: int, key: str, cfg: dict, open_cfg: dict) -> dict:
    targets = [Target(name, port, key) for name in ("me", "recommend")]
    by_rate = {}
    for rate in open_cfg["rates"]:
        rounds = []
        for r in range(open_cfg["rounds"]):
            row = {
                target.name: await measure_open_loop(
                    port, target, clients=cfg["clients"], rate=rate,
                    seconds=open_cfg["seconds"], seed=r,
                )
                for target in targets
            }  # fmt: skip
            rounds.append(row)
        median = _medians(rounds)
        by_rate[str(rate)] = {"rounds": rounds, "median": median}
        print(f"open loop {rate} req/s: " + json.dumps(median), flush=True)
    meeting = [int(rate) for rate, row in by_rate.items()
               if row["median"]["recommend"]["p99_ms"] < TARGET_P99_MS]  # fmt: skip
    return {"by_offered_rate": by_rate, "highest_rate_meeting_target": max(meeting, default=None)}


async def run(port: int, key: str, cfg: dict) -> dict:
    me, recommend = Target("me", port, key), Target("recommend", port, key)
    clients, n, seconds = cfg["clients"], cfg["requests"], cfg["seconds"]
    alone = cfg["single_client_requests"]
    for target in (me, recommend):  # warm up caches and the pool
        await measure(port, target, clients, cfg["warmup"], seconds)
    rounds = []
    for i in range(cfg["rounds"]):
        row = {
            "me": await measure(port, me, clients, n, seconds),
            "recommend": await measure(port, recommend, clients, n, seconds),
            "me_1_client": await measure(port, me, 1, alone, seconds),
            "recommend_1_client": await measure(port, recommend, 1, alone, seconds),
        }
        rounds.append(row)
        print(f"round {i + 1}: " + json.dumps(row), flush=True)
    return {"rounds": rounds, "median": _medians(rounds)}


def _medians(rounds: list[dict]) -> dict:
    return {
        target: {
            stat: statistics.median(r[target][stat] for r in rounds)
            for stat in ("p50_ms", "p99_ms", "max_ms", "throughput_rps")
        }
        for target in rounds[0]
    }


@contextlib.contextmanager
def database(kind: str, tmp: str):
    """A URL for an empty database of ``kind``, dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{Path(tmp) / 'civic.db'}"
        return
    import psycopg

    name = f"civic_bench_{os.getpid()}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_database(kind: str, args: argparse.Namespace, cfg: dict, open_cfg: dict) -> dict:
    load_at_start = os.getloadavg()  # the cores are shared: say how busy they were
    with tempfile.TemporaryDirectory(prefix="civic-bench-") as tmp, database(kind, tmp) as url:
        key = prepare_database(url)
        port = free_port()
        with server(url, port, args.workers):
            closed = uvloop.run(run(port, key, cfg))
            open_loop = uvloop.run(run_open_loop(port, key, cfg, open_cfg))
    single = closed["median"]
    return {
        "server": f"uvicorn, {args.workers} worker(s), {kind}",
        "load_average": {"start": load_at_start, "end": os.getloadavg()},
        "closed_loop": closed,
        "open_loop": open_loop,
        "recommend_over_me_p50_ratio_1_client": round(
            single["recommend_1_client"]["p50_ms"] / single["me_1_client"]["p50_ms"], 2
        ),
        "target": {
            "p99_ms": TARGET_P99_MS,
            "read_against": "open loop, 32 concurrent clients",
            "highest_offered_rate_meeting_it": open_loop["highest_rate_meeting_target"],
            # With 32 requests always in flight, mean latency = 32 / throughput (Little's
            # law): what even the trivial baseline reaches on these cores.
            "closed_loop_baseline_p99_ms": single["me"]["p99_ms"],
            "closed_loop_baseline_mean_ms_by_littles_law": round(
                1000 * cfg["clients"] / single["me"]["throughput_rps"], 1
            ),
            "closed_loop_p99_ms": single["recommend"]["p99_ms"],
        },
    }


def _commit() -> str:
    """The code measured: HEAD, marked when the work tree differs from it."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "service"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()  # fmt: skip
    return f"{head}{' (service/ modified)' if dirty else ''}" if head else "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run; print, do not write")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (default 2)")
    parser.add_argument(
        "--database", choices=["sqlite", "postgresql", "both"], default="both",
        help="which database the server runs on (default: both, one after the other)",
    )  # fmt: skip
    args = parser.parse_args()
    cfg = QUICK if args.quick else FULL
    open_cfg = OPEN_LOOP_QUICK if args.quick else OPEN_LOOP
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    report = {
        "command": "bench/recommendations_latency.py" + (" --quick" if args.quick else ""),
        "commit": _commit(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "mode": "quick" if args.quick else "full",
        "machine": {
            "python": platform.python_version(),
            "processor": platform.machine(),
            "cpus": os.cpu_count(),
        },
        "config": {**cfg, "open_loop": open_cfg},
        "load_generator": "bench/http_load.py (asyncio, uvloop, httptools) on the same cores",
        "endpoints": {
            "me": "GET /v1/me (authenticated baseline: key lookup, one row)",
            "recommend": "POST /v1/recommendations (3 CIVIC v2 assessments in rotation)",
            "*_1_client": "closed loop with one client: the time a request itself takes",
        },
    }
    for kind in kinds:
        print(f"== {kind}", flush=True)
        result = report[kind] = bench_database(kind, args, cfg, open_cfg)
        print(json.dumps(result["closed_loop"]["median"], indent=2))
        best = result["target"]["highest_offered_rate_meeting_it"]
        print(f"{kind}: recommendation p99 < {TARGET_P99_MS} ms up to {best} req/s offered")
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
        print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
