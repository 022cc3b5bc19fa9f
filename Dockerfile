# syntax=docker/dockerfile:1
# Meridian against an external PostgreSQL (DATABASE_URL or MERIDIAN_DATABASE_URL).
# The embedded PostgreSQL extra is deliberately not installed.

# ---- builder: build the wheel and install it with its dependencies into /opt/venv ----------
FROM python:3.11-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1

WORKDIR /src
COPY pyproject.toml README.md alembic.ini ./
COPY service ./service
COPY migrations ./migrations

# A real (non-editable) wheel: it carries the `migrations` package, which
# service/migrate.py finds beside `service` in site-packages.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/venv/bin/pip install /wheels/meridian-*.whl \
    && /opt/venv/bin/python -c "import service.migrate as m; assert (m.MIGRATIONS_DIR / 'env.py').is_file()"

# ---- runtime ------------------------------------------------------------------------------
FROM python:3.11-slim

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/home/meridian

RUN groupadd --system --gid 10001 meridian \
    && useradd --system --uid 10001 --gid meridian --home-dir /home/meridian --create-home \
       --shell /usr/sbin/nologin meridian

COPY --from=builder /opt/venv /opt/venv

USER 10001:10001
WORKDIR /home/meridian
EXPOSE 8000

# slim has no curl: probe /healthz with the standard library.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3).status == 200 else 1)"]

# With no arguments: apply migrations, then serve. With arguments: run them instead,
# e.g. `docker run ... meridian meridian create-org Acme`. `exec` makes the server PID 1,
# so SIGTERM from `docker stop` reaches uvicorn and it shuts down gracefully.
ENTRYPOINT ["/bin/sh", "-c", "if [ \"$#\" -gt 0 ]; then exec \"$@\"; fi; if [ -z \"${MERIDIAN_DATABASE_URL:-}${DATABASE_URL:-}\" ]; then echo 'meridian: set DATABASE_URL (or MERIDIAN_DATABASE_URL) to a PostgreSQL URL' >&2; exit 64; fi; meridian migrate && exec meridian serve --host 0.0.0.0 --port 8000", "meridian-entrypoint"]
CMD []
