# syntax=docker/dockerfile:1
#
# One image for both entrypoints of the `modelmonitor` command: `modelmonitor operator` (the Deployment of the
# Helm chart) and `modelmonitor evaluate` (the evaluation Jobs the operator creates).
#
#   docker build -t modelmonitor-operator:0.1.0 .      # or: make image (podman, no registry needed)
#
# Stage 1 builds the project's wheel and installs it with every dependency, at the versions pinned in
# constraints.txt (the same file `make venv` installs the test environment from), into a virtualenv at
# /opt/modelmonitor; only binary wheels of the dependencies are accepted, so no compiler is needed anywhere.
# Stage 2 copies that one folder onto a clean base and runs as an unprivileged numeric user, so Kubernetes can
# verify `runAsNonRoot`; nothing in it needs a writable root file system (`readOnlyRootFilesystem: true`).
#
# Cache safety: the only thing stage 2 takes from stage 1 is a COPY of /opt/modelmonitor, whose cache key is
# the copied content; a RUN with a bind mount from the build stage is not used (buildah 1.28 reused a stale
# layer for it after a source change).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# No PIP_NO_CACHE_DIR here: `make image` mounts a host folder at /root/.cache/pip, so a rebuild does not download
# every wheel again; without that mount the cache stays in this stage, never in the final image.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY constraints.txt pyproject.toml README.md ./
COPY operator/ ./operator/
# pip comes from the virtualenv itself (ensurepip), so the base needs no python3-pip. The project's own wheel
# first (built from exactly this context), then that wheel with its pinned dependencies into the virtualenv.
# Then what the image never runs is dropped (~70 MB): the dependencies' test suites, C/Cython sources and
# headers, pyarrow's Arrow Flight RPC (no module of ours or of pyarrow's Parquet/S3/dataset path links it) and
# the two byte-identical copies of libarrow_python (only the .so.<ABI> name is linked), and pip itself.
RUN python3 -m venv /opt/modelmonitor \
    && /opt/modelmonitor/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/modelmonitor/bin/pip install --only-binary=:all: --constraint constraints.txt \
         /wheels/modelmonitor_operator-*.whl \
    && cd /opt/modelmonitor/lib/python3*/site-packages \
    && find . -depth -type d -name tests -exec rm -rf {} + \
    && find . -type f \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' -o -name '*.h' -o -name '*.hpp' \
         -o -name '*.cc' -o -name '*.cpp' \) -delete \
    && rm -rf pyarrow/include pyarrow/src pyarrow/libarrow_flight.so.* pyarrow/libarrow_python_flight.so* \
         pyarrow/_flight.cpython-* pyarrow/flight.py pyarrow/libarrow_python.so pyarrow/libarrow_python.so.*.*.* \
    && cd /src \
    && /opt/modelmonitor/bin/pip uninstall --yes --quiet pip \
    && /opt/modelmonitor/bin/modelmonitor --help >/dev/null

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="modelmonitor-operator" \
      org.opencontainers.image.description="Kubernetes operator that evaluates deployed ML models, alerts on quality loss and data drift, and rolls back" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim-bookworm"
ENV PATH=/opt/modelmonitor/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LANG=C.UTF-8
# The user is written into /etc/passwd directly: a minimal Debian base has no useradd.
RUN echo 'modelmonitor:x:10001:10001::/nonexistent:/usr/sbin/nologin' >>/etc/passwd \
    && echo 'modelmonitor:x:10001:' >>/etc/group
COPY --from=build /opt/modelmonitor /opt/modelmonitor
RUN modelmonitor --help >/dev/null
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["modelmonitor"]
CMD ["--help"]
