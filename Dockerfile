# syntax=docker/dockerfile:1
#
# One image for both entrypoints of the `modelmonitor` command: `modelmonitor operator` (the Deployment of the
# Helm chart) and `modelmonitor evaluate` (the evaluation Jobs the operator creates).
#
#   docker build -t modelmonitor-operator:0.1.0 .
#
# Stage 1 builds wheels for the project and every dependency (compilers live here only, for any dependency
# without a binary wheel on the target platform); stage 2 installs those wheels offline into a clean slim
# image and runs as an unprivileged numeric user, so Kubernetes can verify `runAsNonRoot`.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN apt-get update \
    && apt-get install --yes --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator/ ./operator/
# First the project's own wheel, then wheels of all its dependencies next to it.
RUN pip wheel --no-deps --wheel-dir /wheels . \
    && pip wheel --wheel-dir /wheels /wheels/modelmonitor_operator-*.whl

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="modelmonitor-operator" \
      org.opencontainers.image.description="Kubernetes operator that evaluates deployed ML models, alerts on quality loss and data drift, and rolls back" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim-bookworm"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN groupadd --gid 10001 modelmonitor \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin modelmonitor
# The wheels are bind-mounted from the build stage, so they never become a layer of this image.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels modelmonitor-operator \
    && modelmonitor --help >/dev/null
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["modelmonitor"]
CMD ["--help"]
