"""Benchmark: GET /v1/studies/{id}/agreement?unit=character through the app, on PostgreSQL.

    .venv/bin/python bench/agreement_api.py           # full corpus, writes the JSON
    .venv/bin/python bench/agreement_api.py --quick   # small corpus, prints only

A throwaway database is created on the server named by CIVIC_TEST_POSTGRES_URL (as
the tests do), migrated with ``service.migrate.upgrade`` and dropped at the end.
Full corpus: 1,000 documents of 50,000 characters, 2 coders, 40 themes, 200,000
segments (the seeded generator of ``bench/agreement_units.py``: the second coder
recodes most of the first coder's passages with jittered boundaries). The 40 themes
are a derived framework version ("civic-bench"): the 18 themes of CIVIC version 2 plus
22 extra top-level themes. Rows are written with COPY. The request goes through the
whole app (FastAPI TestClient, API-key authentication, one transaction) and returns
every figure: 40,000 cells, 40 themes, overall. Medians of several runs are reported,
and the median time of each stage over three runs of the same calls made directly.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from agreement_units import generate
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, select, text

from service import migrate, seed
from service.agreement import aggregate as agg
from service.agreement import dataset
from service.agreement import service as agreement_service
from service.agreement.schemas import AgreementRequest
from service.agreement.units import tables_from_encoded
from service.auth import service as auth_service
from service.auth.models import Role
from service.coding.access import StudyAccess, StudyRole
from service.coding.models import Coder, Study, StudyMember
from service.config import Settings
from service.frameworks.models import Framework, Theme
from service.main import create_app

RESULTS = Path(__file__).resolve().parent / "results" / "agreement_api.json"
ADMIN_URL = os.environ.get(
    "CIVIC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
FULL = {
    "documents": 1000,
    "length": 50_000,
    "themes": 40,
    "coders": 2,
    "segments": 200_000,
    "repeats": 7,
}
QUICK = {
    "documents": 50,
    "length": 5_000,
    "themes": 40,
    "coders": 2,
    "segments": 10_000,
    "repeats": 3,
}
TARGET_S = 2.0


def build(app, cfg: dict) -> tuple[str, dict, list[str]]:
    """The corpus in the database; returns the study id, owner headers and coder ids."""
    encoded = generate(cfg, cfg["length"])
    with app.state.sessionmaker() as session:
        seed.load_builtin(session=session)
        v2 = session.scalars(
            select(Framework).where(Framework.slug == "civic", Framework.version == "2")
        ).one()
        framework = Framework(
            slug="civic-bench",
            version="2+extra",
            title="CIVIC v2 with extra themes (benchmark)",
            status="published",
            derived_from_id=v2.id,
        )
        session.add(framework)
        session.flush()
        v2_themes = session.scalars(
            select(Theme).where(Theme.framework_id == v2.id).order_by(Theme.order)
        ).all()
        ids = {t.id: uuid.uuid4() for t in v2_themes}
        themes = [
            Theme(
                id=ids[t.id],
                framework_id=framework.id,
                key=t.key,
                code=t.code,
                label=t.label,
                kind=t.kind,
                parent_id=ids.get(t.parent_id),
                order=t.order,
            )
            for t in v2_themes
        ]
        for n in range(cfg["themes"] - len(themes)):
            themes.append(
                Theme(
                    framework_id=framework.id,
                    key=f"extra_{n + 1}",
                    code=str(100 + n),
                    label=f"Extra theme {n + 1}",
                    order=1000 + n,
                )
            )
        for theme in sorted(themes, key=lambda t: t.parent_id is not None):
            session.add(theme)
            session.flush()
        api_key, key = auth_service.create_key(
            session=session, name="bench-owner", role=Role.researcher
        )
        study = Study(title="Benchmark study", framework_id=framework.id)
        session.add(study)
        session.flush()
        session.add(StudyMember(study_id=study.id, principal_id=api_key.principal_id, role="owner"))
        coders = [Coder(study_id=study.id, name=f"Coder {k + 1}") for k in range(cfg["coders"])]
        session.add_all(coders)
        session.commit()
        study_id, framework_themes = study.id, [t.id for t in themes]
        coder_ids = [c.id for c in coders]

    now = "2026-01-01T00:00:00+00:00"
    doc_ids = [uuid.uuid4() for _ in range(cfg["documents"])]
    body = ("Interviewer: what helps? Participant: the group on Thursdays. " * 1000)[
        : cfg["length"]
    ]
    raw = app.state.engine.raw_connection()
    try:
        cursor = raw.cursor()
        columns = "id, study_id, title, text, length, content_hash, interview_order, "
        columns += "created_at, updated_at"
        with cursor.copy(f"COPY documents ({columns}) FROM STDIN") as copy:
            for n, doc_id in enumerate(doc_ids):
                text_n = body[:-6] + f"{n:06d}"
                digest = hashlib.sha256(text_n.encode()).hexdigest()
                copy.write_row(
                    (
                        doc_id,
                        study_id,
                        f"Interview {n + 1}",
                        text_n,
                        cfg["length"],
                        digest,
                        n + 1,
                        now,
                        now,
                    )
                )
        columns = 'id, study_id, document_id, theme_id, coder_id, start, "end", memo, '
        columns += "negative_case, exemplar, created_at, updated_at"
        with cursor.copy(f"COPY segments ({columns}) FROM STDIN") as copy:
            for d, t, k, s, e in zip(
                encoded.document.tolist(),
                encoded.theme.tolist(),
                encoded.coder.tolist(),
                encoded.start.tolist(),
                encoded.end.tolist(),
                strict=True,
            ):
                copy.write_row(
                    (
                        uuid.uuid4(),
                        study_id,
                        doc_ids[d],
                        framework_themes[t],
                        coder_ids[k],
                        s,
                        e,
                        "",
                        False,
                        False,
                        now,
                        now,
                    )
                )
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return str(study_id), {"Authorization": f"Bearer {key}"}, [str(c) for c in coder_ids]


def stages(app, study_id: str, coder_ids: list[str]) -> dict:
    """One request's work, stage by stage (the same calls the route makes)."""
    times = {}
    with app.state.sessionmaker() as session, agreement_service.gc_paused():
        study = session.get(Study, uuid.UUID(study_id))
        access = StudyAccess(
            study=study, principal=None, role=StudyRole.owner, coder_ids=frozenset()
        )
        request = AgreementRequest(coders=[uuid.UUID(c) for c in coder_ids], unit="character")
        began = time.perf_counter()
        data = dataset.load(session=session, access=access, request=request)
        times["load_and_hash_s"] = time.perf_counter() - began
        began = time.perf_counter()
        tables = tables_from_encoded(agreement_service.encode(data, None), unit="character")
        times["sweep_s"] = time.perf_counter() - began
        began = time.perf_counter()
        aggregates = agg.aggregate(tables, ["cohen_kappa", "percent_agreement"])
        times["statistics_s"] = time.perf_counter() - began
        began = time.perf_counter()
        result = agreement_service.present(
            data=data,
            tables=tables,
            aggregates=aggregates,
            parameters={"aggregation": "pooled", "cells": True},
            threshold=0.6,
            study_id=study_id,
        )
        times["present_s"] = time.perf_counter() - began
        began = time.perf_counter()
        json.dumps(result, allow_nan=False, check_circular=False, separators=(",", ":"))
        times["json_s"] = time.perf_counter() - began
    return {name: round(value, 4) for name, value in times.items()}


def timed(function, repeats: int) -> dict:
    runs = []
    for _ in range(repeats):
        gc.collect()
        began = time.perf_counter()
        function()
        runs.append(time.perf_counter() - began)
    return {"median_s": round(statistics.median(runs), 4), "runs_s": [round(r, 4) for r in runs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small corpus; print only")
    args = parser.parse_args()
    cfg = QUICK if args.quick else FULL
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"civic_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        settings = Settings(database_url=url, log_level="WARNING")
        migrate.upgrade(settings)
        app = create_app(settings)
        began = time.perf_counter()
        study_id, headers, coder_ids = build(app, cfg)
        build_s = time.perf_counter() - began
        params = {"coder": coder_ids, "unit": "character"}
        with TestClient(app) as client:
            url_path = f"/v1/studies/{study_id}/agreement"
            first = client.get(url_path, params=params, headers=headers)
            assert first.status_code == 200, first.text[:500]
            result = first.json()
            assert len(result["cells"]) == cfg["documents"] * cfg["themes"]
            assert result["n_segments"] == cfg["segments"]

            def request(query=params):
                response = client.get(url_path, params=query, headers=headers)
                assert response.status_code == 200

            full = timed(request, cfg["repeats"])
            without_cells = timed(lambda: request({**params, "cells": "false"}), cfg["repeats"])
        out = {
            "command": "bench/agreement_api.py" + (" --quick" if args.quick else ""),
            "mode": "quick" if args.quick else "full",
            "machine": {
                "python": platform.python_version(),
                "numpy": np.__version__,
                "processor": platform.machine(),
                "database": "PostgreSQL (local server, throwaway database)",
            },
            "config": cfg,
            "themes_note": "derived framework version: the 18 CIVIC v2 themes + 22 extra",
            "build_s": round(build_s, 2),
            "response_bytes": len(first.content),
            "overall_pooled_kappa": result["overall"]["pooled"]["cohen_kappa"]["value"],
            "request_with_cells": full,
            "request_without_cells": without_cells,
            "stages_median_of_3": {
                name: round(statistics.median(run[name] for run in runs), 4)
                for runs in [[stages(app, study_id, coder_ids) for _ in range(3)]]
                for name in runs[0]
            },
            "load_average_1_5_15_min": [round(v, 2) for v in os.getloadavg()],
            "cpus": os.cpu_count(),
            "target_s": TARGET_S,
            "meets_target": full["median_s"] < TARGET_S,
        }
        app.state.engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    print(json.dumps(out, indent=2))
    if not args.quick:
        RESULTS.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
