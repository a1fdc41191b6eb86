# syntax=docker/dockerfile:1
# Multi-stage: compilers stay in the build stage; the runtime image runs as a non-root user.
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
# EXTRAS: the embedded model (llama-cpp-python builds from source: ~5 min) and PostgreSQL.
ARG EXTRAS=local,postgres
# llama.cpp for any x86-64 CPU with AVX2 (its AMX code crashes on some virtualised hosts).
ARG CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app app
COPY chains chains
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir ".${EXTRAS:+[$EXTRAS]}"

FROM python:${PYTHON_VERSION}-slim
RUN useradd --create-home --uid 10001 genai \
    && mkdir /data && chown genai /data
COPY --from=build /opt/venv /opt/venv
COPY prompts /app/prompts
ENV PATH=/opt/venv/bin:$PATH \
    GENAI_HOST=0.0.0.0 \
    GENAI_DATA_DIR=/data \
    GENAI_PROMPTS_DIR=/app/prompts
WORKDIR /app
USER genai
# The port is 8000 unless the platform running the image sets PORT (Cloud Run, App Runner...).
EXPOSE 8000
VOLUME ["/data"]
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % (os.environ.get('GENAI_PORT') or os.environ.get('PORT', '8000')), timeout=2)"
CMD ["genai", "serve"]
