# syntax=docker/dockerfile:1
# TorchServe 0.12 with the Smart Library handlers and the verified .mar archives.
# Run `smartlib export-mar` (or `smartlib train`) first so model_store/torchserve/ has archives,
# then build from the repository root:
#   docker build -f docker/torchserve.Dockerfile -t smartlib-torchserve .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/src/core:/src/handlers \
    PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
    SMARTLIB_MODEL_STORE=/srv/model_store \
    LOG_LOCATION=/srv/logs METRICS_LOCATION=/srv/logs

# TorchServe's frontend is Java. Debian security updates move the exact version, so it is not pinned.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
RUN python -m venv /opt/venv
# core and the handlers only, on PYTHONPATH: the handlers' workers load nothing else.
COPY docker/torchserve/requirements.txt ./
RUN pip install --index-url "${TORCH_INDEX_URL}" torch==2.13.0 \
 && pip install -r requirements.txt
COPY core core
COPY handlers handlers
RUN useradd --system --uid 10002 --create-home --home-dir /srv model-server \
 && install -d -o 10002 /srv/logs
WORKDIR /srv
COPY --chown=10002 model_store/ /srv/model_store/
COPY --chown=10002 docker/torchserve/config.properties /srv/config.properties
COPY --chmod=0755 docker/torchserve/entrypoint.sh /srv/entrypoint.sh
USER 10002
# 7070 gRPC inference (what the server calls), 8080 REST inference (/ping), 8082 Prometheus metrics.
EXPOSE 7070 8080 8082
HEALTHCHECK --interval=10s --timeout=3s --start-period=180s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/ping', timeout=2)"]
ENTRYPOINT ["/srv/entrypoint.sh"]
