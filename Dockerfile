# The bot in HTTP mode, for `docker compose up` (compose.yaml) or any container platform.
# tests/test_container.py runs this file's COPY, pip install, CMD and HEALTHCHECK outside a container.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PORT=3000

RUN useradd --create-home --uid 10001 app

# the product only (pyproject.toml's packages); sandbox/, tests/ and bench/ stay out
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot bot
COPY forms forms
COPY workflow workflow
COPY storage storage
COPY pdf pdf
COPY i18n i18n
RUN pip install ".[postgres]"

USER app
# the default DATABASE_URL (a SQLite file under ./data) is writable here; compose.yaml sets PostgreSQL
WORKDIR /home/app
EXPOSE 3000

# no curl in a slim image: Python asks /healthz, which answers 200 while the database is reachable
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '3000') + '/healthz', timeout=4)"]

# `run` creates or migrates the database itself (init_db), so no separate `service-orders init` step;
# exec: the bot is PID 1 and gets the SIGTERM of `docker stop`
CMD exec service-orders run --http --host 0.0.0.0 --port "$PORT"
