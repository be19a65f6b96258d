"""Benchmark: POST /v1/studies/{id}/segments:bulk with 100,000 segments, on PostgreSQL.

    .venv/bin/python bench/bulk_import.py           # 100,000 rows, writes the JSON
    .venv/bin/python bench/bulk_import.py --quick   # 10,000 rows, prints only

A throwaway database is created on the server named by CIVIC_TEST_POSTGRES_URL (as the
tests do), migrated with ``service.migrate.upgrade`` and dropped at the end. Each run
gets a fresh study (200 transcripts of 20,000 characters, one coder, CIVIC version 2)
and starts from an empty segments table, and the whole request is timed through the
app (FastAPI TestClient: API-key authentication, parsing, checking every row, COPY,
commit, response). The rows cover 18 themes by code, with memos and flags on some.

Baselines, in the same run and on the same kind of study:
* the database floor: the same rows, already checked, written by the import's own
  COPY writer and committed, with no HTTP, parsing or checking; what PostgreSQL
  needs for 100,000 rows with the segments table's five indexes and four foreign-key
  checks per row;
* one POST /segments per segment (the route a client would otherwise loop over), on
  a sample, as a rate;
* a plain ORM insert: Segment objects, ``session.add_all`` and commit (SQLAlchemy's
  insertmanyvalues batching), with no checking at all.
Medians are reported; the machine's load average is recorded, since the database and
the client share its cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, select, text

from service import migrate, seed
from service.auth import service as auth_service
from service.auth.models import Role
from service.coding import segments as segments_service
from service.coding.access import StudyAccess, StudyRole
from service.coding.bulk_import import SegmentWriter
from service.coding.models import Coder, Document, Segment, Study, StudyMember
from service.config import Settings
from service.db import utcnow
from service.frameworks.models import Framework, Theme
from service.main import create_app

RESULTS = Path(__file__).resolve().parent / "results" / "bulk_import.json"
ADMIN_URL = os.environ.get(
    "CIVIC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
FULL = {
    "rows": 100_000,
    "documents": 200,
    "length": 20_000,
    "json_repeats": 5,
    "ndjson_repeats": 3,
    "orm_repeats": 3,
    "single_sample": 500,
    "single_repeats": 3,
}
QUICK = FULL | {
    "rows": 10_000,
    "documents": 20,
    "json_repeats": 2,
    "ndjson_repeats": 1,
    "orm_repeats": 1,
    "single_sample": 100,
    "single_repeats": 1,
}


class Bench:
    def __init__(self, cfg: dict) -> None:
        self.cfg = cfg
        self.admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.database = f"civic_bench_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.database}"'))
        url = make_url(ADMIN_URL).set(database=self.database)
        settings = Settings(
            database_url=url.render_as_string(hide_password=False), log_level="WARNING"
        )
        migrate.upgrade(settings)
        self.app = create_app(settings)
        self.client = TestClient(self.app)
        with self.app.state.sessionmaker() as session:
            seed.load_builtin(session=session)
            framework = session.scalars(
                select(Framework).where(Framework.slug == "civic", Framework.version == "2")
            ).one()
            self.framework_id = framework.id
            self.codes = list(
                session.scalars(select(Theme.code).where(Theme.framework_id == framework.id))
            )
            _, key = auth_service.create_key(session=session, name="bench", role=Role.researcher)
            self.principal = auth_service.authenticate(session=session, key=key)
            self.principal_id = self.principal.id
            session.commit()
        self.headers = {"Authorization": f"Bearer {key}"}
        rng = random.Random(20_261_128)
        self.texts = [
            "".join(rng.choice("etaoin shrdlu\ncmfwyp") for _ in range(cfg["length"]))
            for _ in range(cfg["documents"])
        ]

    def close(self) -> None:
        self.client.close()
        self.app.state.engine.dispose()
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
        self.admin.dispose()

    def fresh_study(self) -> tuple[str, list[str], str]:
        """An empty segments table and a new study: (study id, document ids, coder id)."""
        with self.app.state.sessionmaker() as session:
            session.execute(text("TRUNCATE segments CASCADE"))  # and adjudications (empty)
            study = Study(title="Bench", framework_id=self.framework_id)
            session.add(study)
            session.flush()
            session.add(
                StudyMember(study_id=study.id, principal_id=self.principal_id, role="owner")
            )
            coder = Coder(study_id=study.id, name="Bench coder", principal_id=self.principal_id)
            documents = [
                Document(
                    study_id=study.id,
                    title=f"Interview {index + 1}",
                    text=content,
                    length=len(content),
                    content_hash=hashlib.sha256(content.encode()).hexdigest(),
                )
                for index, content in enumerate(self.texts)
            ]
            session.add_all([coder, *documents])
            session.commit()
            return str(study.id), [str(d.id) for d in documents], str(coder.id)

    def rows(self, documents: list[str], coder_id: str, count: int) -> list[dict]:
        rng = random.Random(7)
        length = self.cfg["length"]
        rows = []
        for index in range(count):
            start = rng.randrange(0, length - 600)
            row = {
                "document_id": documents[index % len(documents)],
                "start": start,
                "end": start + rng.randrange(20, 600),
                "theme_code": self.codes[index % len(self.codes)],
                "coder_id": coder_id,
            }
            if index % 10 == 0:
                row["memo"] = "Regular contact over months; see the\tearlier passage."
            if index % 25 == 0:
                row["negative_case"] = True
            if index % 40 == 0:
                row["exemplar"] = True
            rows.append(row)
        return rows

    def bulk(self, ndjson: bool) -> float:
        study, documents, coder = self.fresh_study()
        rows = self.rows(documents, coder, self.cfg["rows"])
        if ndjson:
            body = b"\n".join(json.dumps(row).encode() for row in rows)
            content_type = "application/x-ndjson"
        else:
            body = json.dumps(rows).encode()
            content_type = "application/json"
        started = time.perf_counter()
        response = self.client.post(
            f"/v1/studies/{study}/segments:bulk",
            content=body,
            headers={**self.headers, "Content-Type": content_type},
        )
        elapsed = time.perf_counter() - started
        assert response.status_code == 201, response.text[:500]
        assert response.json()["created"] == len(rows)
        self.check_stored(study, len(rows))
        return elapsed

    def single(self) -> float:
        study, documents, coder = self.fresh_study()
        rows = self.rows(documents, coder, self.cfg["single_sample"])
        started = time.perf_counter()
        for row in rows:
            response = self.client.post(
                f"/v1/studies/{study}/segments", json=row, headers=self.headers
            )
            assert response.status_code == 201, response.text[:500]
        elapsed = time.perf_counter() - started
        self.check_stored(study, len(rows))
        return elapsed

    def orm(self) -> float:
        study, documents, coder = self.fresh_study()
        rows = self.rows(documents, coder, self.cfg["rows"])
        themes = self.theme_ids()
        study_id, coder_id = uuid.UUID(study), uuid.UUID(coder)
        document_ids = {d: uuid.UUID(d) for d in documents}
        started = time.perf_counter()
        with self.app.state.sessionmaker() as session:
            now = utcnow()
            session.add_all(
                [
                    Segment(
                        study_id=study_id,
                        document_id=document_ids[row["document_id"]],
                        theme_id=themes[row["theme_code"]],
                        coder_id=coder_id,
                        start=row["start"],
                        end=row["end"],
                        memo=row.get("memo", ""),
                        negative_case=row.get("negative_case", False),
                        exemplar=row.get("exemplar", False),
                        created_at=now,
                        updated_at=now,
                    )
                    for row in rows
                ]
            )
            session.commit()
        elapsed = time.perf_counter() - started
        self.check_stored(study, len(rows))
        return elapsed

    def database_floor(self) -> float:
        """The database's share: the same rows, already checked, written by the import's
        own writer (COPY) and committed; no HTTP, no parsing, no checking."""
        study, documents, coder = self.fresh_study()
        rows = self.rows(documents, coder, self.cfg["rows"])
        with self.app.state.sessionmaker() as session:
            study_row = session.get(Study, uuid.UUID(study))
            access = StudyAccess(
                study=study_row,
                principal=self.principal,
                role=StudyRole.owner,
                coder_ids=frozenset(),
            )
            refs = segments_service.load_references(session=session, access=access)
            checked = [segments_service.check_row(row, refs)[0] for row in rows]
            started = time.perf_counter()
            with SegmentWriter(session=session, study_id=study_row.id) as writer:
                for row in checked:
                    writer.add(row)
            session.commit()
            elapsed = time.perf_counter() - started
        self.check_stored(study, len(rows))
        return elapsed

    def theme_ids(self) -> dict[str, uuid.UUID]:
        with self.app.state.sessionmaker() as session:
            return dict(
                session.execute(
                    select(Theme.code, Theme.id).where(Theme.framework_id == self.framework_id)
                ).all()
            )

    def check_stored(self, study: str, expected: int) -> None:
        with self.app.state.sessionmaker() as session:
            stored = session.scalar(
                text("SELECT count(*) FROM segments WHERE study_id = :s"), {"s": uuid.UUID(study)}
            )
        assert stored == expected, (stored, expected)


def summary(times: list[float], rows: int) -> dict:
    median = statistics.median(times)
    return {
        "rows": rows,
        "median_s": round(median, 3),
        "rows_per_s": round(rows / median),
        "runs_s": [round(t, 3) for t in times],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 rows, a few seconds")
    parser.add_argument("--output", type=Path, help="where to write the JSON figures")
    args = parser.parse_args()
    cfg = QUICK if args.quick else FULL
    output = args.output or (None if args.quick else RESULTS)
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    bench = Bench(cfg)
    try:
        with bench.app.state.engine.connect() as connection:
            server = connection.execute(text("SHOW server_version")).scalar()
        figures: dict = {}
        runs = {
            "bulk_json": lambda: bench.bulk(ndjson=False),
            "bulk_ndjson": lambda: bench.bulk(ndjson=True),
            "database_floor": bench.database_floor,
            "orm_add_all": bench.orm,
            "single_posts": bench.single,
        }
        repeats = {
            "bulk_json": cfg["json_repeats"],
            "bulk_ndjson": cfg["ndjson_repeats"],
            "database_floor": cfg["json_repeats"],
            "orm_add_all": cfg["orm_repeats"],
            "single_posts": cfg["single_repeats"],
        }
        # Rounds interleave the methods, so a change in the machine's load (the cores
        # are shared) falls on all of them rather than on whichever ran then.
        times: dict[str, list[float]] = {name: [] for name in runs}
        for round_ in range(max(repeats.values())):
            for name, run in runs.items():
                if round_ < repeats[name]:
                    times[name].append(run())
            print(
                f"round {round_ + 1}: "
                + ", ".join(f"{n} {t[-1]:.2f} s" for n, t in times.items() if len(t) > round_),
                flush=True,
            )
        for name in runs:
            rows = cfg["single_sample"] if name == "single_posts" else cfg["rows"]
            figures[name] = summary(times[name], rows)
            print(
                f"{name}: median {figures[name]['median_s']} s for {rows:,} rows = "
                f"{figures[name]['rows_per_s']:,} rows/s",
                flush=True,
            )
        bulk_rate = figures["bulk_json"]["rows_per_s"]
        ratios = {
            "bulk_json_vs_single_posts": round(bulk_rate / figures["single_posts"]["rows_per_s"]),
            "bulk_json_vs_orm_add_all": round(bulk_rate / figures["orm_add_all"]["rows_per_s"], 1),
            "bulk_ndjson_vs_bulk_json": round(figures["bulk_ndjson"]["rows_per_s"] / bulk_rate, 2),
            "bulk_json_vs_database_floor": round(
                bulk_rate / figures["database_floor"]["rows_per_s"], 2
            ),
        }
        print(f"ratios: {ratios}")
        single_extrapolated = round(cfg["rows"] / figures["single_posts"]["rows_per_s"])
        print(f"{cfg['rows']:,} single POSTs would take about {single_extrapolated:,} s")
        result = {
            "command": "bench/bulk_import.py" + (" --quick" if args.quick else ""),
            "target": "bulk import over 20,000 segments/s on PostgreSQL",
            "machine": {
                "python": platform.python_version(),
                "processor": platform.machine(),
                "cpus": os.cpu_count(),
                "postgresql": server,
                "load_average_at_start": load_at_start,
                "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            },
            "config": cfg,
            **figures,
            "single_posts_extrapolated_s_for_all_rows": single_extrapolated,
            "ratios": ratios,
        }
        if output:
            output.write_text(json.dumps(result, indent=2) + "\n")
            print(f"wrote {output}")
    finally:
        bench.close()


if __name__ == "__main__":
    main()
