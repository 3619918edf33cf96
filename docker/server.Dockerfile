# syntax=docker/dockerfile:1
# The Smart Library gRPC server. Build from the repository root:
#   docker build -f docker/server.Dockerfile -t smartlib-server .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# The CPU-only torch index: the default torch wheel bundles CUDA libraries (gigabytes) that a
# CPU server never loads.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/venv/bin:$PATH
WORKDIR /src
RUN python -m venv /opt/venv
COPY requirements.lock ./
# torch first from the CPU index; requirements.lock then finds torch==2.13.0 already satisfied.
RUN pip install --index-url "${TORCH_INDEX_URL}" torch==2.13.0 \
 && pip install -r requirements.lock
COPY pyproject.toml README.md ./
COPY core core
COPY server server
COPY clients clients
COPY handlers handlers
COPY training training
RUN pip install --no-deps ./

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    SMARTLIB_HOME=/srv/var \
    SMARTLIB_MODEL_STORE=/srv/model_store \
    SMARTLIB_GRPC_HOST=0.0.0.0 \
    SMARTLIB_GRPC_PORT=50051 \
    SMARTLIB_HEALTH_PORT=50052 \
    SMARTLIB_METRICS_PORT=9464
RUN useradd --system --uid 10001 --create-home --home-dir /srv smartlib \
 && mkdir -p /srv/var /srv/model_store && chown -R smartlib /srv
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv
USER 10001
EXPOSE 50051 50052 9464
# The gRPC health service says SERVING once the indexes are loaded; its own port answers at any load.
# 0.0.0.0 without tokens refuses to start: pass SMARTLIB_AUTH_TOKEN and SMARTLIB_ADMIN_TOKEN (make secrets).
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s --retries=3 \
  CMD ["python", "-c", "import grpc, sys; from grpc_health.v1 import health_pb2 as h, health_pb2_grpc as g; import os; ch = grpc.insecure_channel('127.0.0.1:' + os.environ['SMARTLIB_HEALTH_PORT']); sys.exit(g.HealthStub(ch).Check(h.HealthCheckRequest(), timeout=2).status != h.HealthCheckResponse.SERVING)"]
ENTRYPOINT ["smartlib"]
CMD ["serve", "--seed-starter"]
