# One image for every alertbus service: `alertbus gateway|ingest|query|hooks` (default: gateway).
#   docker build -t alertbus:0.1.0 --build-arg BUILD_REVISION=$(git rev-parse HEAD) \
#     --build-arg BUILD_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
#   docker run --rm -p 8080:8080 -e AMQP_URL=... -e DATABASE_URL=... alertbus:0.1.0
#   docker run --rm -e AMQP_URL=... -e DATABASE_URL=... alertbus:0.1.0 alertbus ingest
# All configuration comes from environment variables (see deploy/configmap.yaml for the list).

# --- build: install the project and its dependencies into a virtualenv -------------------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/alertbus
WORKDIR /src
COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services
RUN /opt/alertbus/bin/pip install . \
    && /opt/alertbus/bin/alertbus --help >/dev/null

# --- runtime: the virtualenv only, run as an unprivileged user -------------------------------------
FROM python:3.11-slim
# Shown by /management/manifest.
ARG BUILD_NUMBER=""
ARG BUILD_DATE=""
ARG BUILD_REVISION=""
# Numeric UID/GID so that Kubernetes `runAsNonRoot: true` can verify the user without a passwd lookup.
RUN groupadd --system --gid 10001 alertbus \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin alertbus
COPY --from=build /opt/alertbus /opt/alertbus
ENV PATH=/opt/alertbus/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=8080 \
    QUERY_PORT=8081 \
    HOOKS_PORT=8082 \
    INGEST_PORT=8083 \
    LOG_FORMAT=json \
    BUILD_NUMBER=$BUILD_NUMBER \
    BUILD_DATE=$BUILD_DATE \
    BUILD_REVISION=$BUILD_REVISION
WORKDIR /tmp
USER 10001:10001
# gateway, query, hooks; ingest (/metrics and health only)
EXPOSE 8080 8081 8082 8083
# Exec form: the service is PID 1 and receives SIGTERM itself (graceful shutdown: stop consuming,
# finish in-flight work, close).
CMD ["alertbus", "gateway"]
