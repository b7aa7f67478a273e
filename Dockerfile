# syntax=docker/dockerfile:1
# Images of actsearch (docker-compose.yml builds both):
#   api  python:3.11-slim with the CPU build of torch: `actsearch serve --no-runner` (validating a
#        JobSpec builds its task, so the API needs torch, but never a GPU)
#   gpu  the same with a CUDA build of torch: Ray head, Ray workers and the runner. One image for
#        every Ray process, because Ray needs the same Ray and Python versions on every node.
#
# Why not an nvidia/cuda or pytorch/pytorch base: torch's CUDA wheels bring their own CUDA
# runtime, cuDNN and cuBLAS (the nvidia-* wheels); only the driver comes from the host, which
# the NVIDIA Container Toolkit mounts into the container. So both images share one Python 3.11
# base and differ only in the torch build. Choose another CUDA build with, e.g.,
#   docker compose build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS base
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --create-home --uid 1000 actsearch
# A C compiler: CPU evaluations compile each population's candidates into fused kernels
# (evaluator._fused, several times faster than PyTorch ops); without one they still run, slower.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
# The dependencies of pyproject.toml, without the package: this layer is rebuilt only when they
# change, not on every edit of the code.
COPY pyproject.toml /tmp/pyproject.toml
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('/tmp/pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt

# The actsearch wheel (package data included: migrations, the dashboard).
FROM base AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY space ./space
COPY search ./search
COPY evaluator ./evaluator
COPY worker ./worker
COPY store ./store
COPY api ./api
COPY cli ./cli
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM base AS api
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN pip install --index-url "${TORCH_INDEX_URL}" "torch>=2.2,<3" \
    && pip install -r /tmp/requirements.txt
COPY --from=wheel /wheels /wheels
RUN pip install --no-deps /wheels/*.whl && rm -rf /wheels
USER actsearch
WORKDIR /home/actsearch
EXPOSE 8000
CMD ["actsearch", "serve", "--no-runner", "--host", "0.0.0.0"]

FROM base AS gpu
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    RAY_USAGE_STATS_ENABLED=0
RUN pip install --index-url "${TORCH_INDEX_URL}" "torch>=2.2,<3" \
    && pip install -r /tmp/requirements.txt
COPY --from=wheel /wheels /wheels
RUN pip install --no-deps /wheels/*.whl && rm -rf /wheels
USER actsearch
WORKDIR /home/actsearch
# 6379: GCS (head), 8265: dashboard (head); the other Ray ports are random, open on the compose network
EXPOSE 6379 8265
CMD ["actsearch", "worker"]
