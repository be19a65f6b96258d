# syntax=docker/dockerfile:1
# Build stage: install the service and its runtime dependencies into a venv.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY service ./service
RUN /opt/venv/bin/pip install .

# Runtime stage: the venv, the migrations, an unprivileged user.
FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CIVIC_DATABASE_URL=sqlite:///./var/civic.db
RUN groupadd --system --gid 10001 civic && useradd --system --uid 10001 --gid civic --home-dir /app civic
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY migrations ./migrations
RUN mkdir -p /app/var && chown 10001:10001 /app/var
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
# `civic serve` migrates to head, loads the CIVIC frameworks, then starts uvicorn
# with CIVIC_WORKERS workers.
CMD ["civic", "serve", "--host", "0.0.0.0", "--port", "8000"]
