# syntax=docker/dockerfile:1
# Google Cloud Storage emulator for the compose stack, built from the same pinned PyPI
# package the tests start (requirements.lock), so compose and tests run one emulator version.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1
RUN pip install gcp-storage-emulator==2026.7.19 \
 && useradd --system --uid 10003 --create-home --home-dir /data emulator \
 && install -d -o 10003 /data/store
WORKDIR /data
USER 10003
EXPOSE 9023
ENTRYPOINT ["gcp-storage-emulator", "-d", "/data/store"]
CMD ["start", "--host=0.0.0.0", "--port=9023", "--default-bucket=smartlib-artifacts"]
