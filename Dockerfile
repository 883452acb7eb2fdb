# syntax=docker/dockerfile:1
# Build stage: wheels for every pinned dependency.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY requirements.txt .
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt

# Runtime stage: no compiler, non-root, migrations run as a separate command.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    GUNICORN_BIND=0.0.0.0:8000 VERIFY_ENV=production
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin verify \
 && install -d -o verify -g verify -m 0700 /var/lib/verify-anchors
# Scheduled audit anchors (signed chain heads) are appended here; mount a volume that is shipped off the
# database host, or send them to the events webhook instead (VERIFY_AUDIT_ANCHOR_WEBHOOK=true).
ENV VERIFY_AUDIT_ANCHOR_FILE=/var/lib/verify-anchors/audit-anchors.jsonl
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels /wheels/* && rm -rf /wheels
COPY --chown=verify:verify verify_service ./verify_service
COPY --chown=verify:verify migrations ./migrations
COPY --chown=verify:verify wsgi.py gunicorn.conf.py ./
USER verify
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
# Schema: docker run --rm IMAGE flask --app wsgi db upgrade   (run once per release, before the app)
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
