# paddle-optim on the official PaddlePaddle 2.6 GPU image.
#
#   docker build -t paddle-optim .
#   docker run --rm --gpus all -v "$PWD/output:/workspace/output" paddle-optim        # the quickstart
#   docker run --rm --gpus all paddle-optim check -c configs/quickstart.yaml
#
# Paddle and numpy come from the base image and are never replaced: their exact versions become pip
# constraints (kept in the image as /etc/paddle-optim/constraints.txt and honoured by every later
# `pip install` through PIP_CONSTRAINT). Other bases are one build argument away (README, "Docker"):
#   --build-arg BASE_IMAGE=paddlepaddle/paddle:2.6.2-gpu-cuda12.0-cudnn8.9-trt8.6   Hopper, driver >= 525
#   --build-arg BASE_IMAGE=paddlepaddle/paddle:2.6.2-gpu-cuda11.2-cudnn8.2-trt8.0   driver >= 460
#   --build-arg BASE_IMAGE=paddlepaddle/paddle:3.0.0-gpu-cuda11.8-cudnn8.9-trt8.6   Paddle 3 on CUDA 11.8
ARG BASE_IMAGE=paddlepaddle/paddle:2.6.2-gpu-cuda11.7-cudnn8.4-trt8.4
FROM ${BASE_IMAGE}

# The account that runs jobs; pass the host's id (--build-arg USER_UID=$(id -u)) so that files written
# to a bind-mounted output directory belong to you.
ARG USER_UID=1000

LABEL org.opencontainers.image.title="paddle-optim" \
      org.opencontainers.image.description="RAdam, Lookahead and Ranger for PaddlePaddle, schedules from YAML, and a YAML-driven trainer" \
      org.opencontainers.image.licenses="Apache-2.0"

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_CONSTRAINT=/etc/paddle-optim/constraints.txt \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLCONFIGDIR=/tmp/matplotlib

WORKDIR /workspace

# Only what the package build needs, so that editing configs or scripts does not re-run pip.
COPY pyproject.toml README.md /tmp/paddle-optim/
COPY paddle_optim /tmp/paddle-optim/paddle_optim

# 1. Pin the image's own Paddle and numpy (pip list prints name==version even for wheels the image
#    installed from a local file, where pip freeze would print a path).
# 2. Install paddle-optim and its dependencies under those pins.
# 3. Fail the build if the Paddle/numpy set changed anyway (for example a second, CPU-only Paddle).
RUN mkdir -p /etc/paddle-optim \
 && python -m pip list --format=freeze \
      | grep -iE '^(paddlepaddle(-gpu)?|numpy)==' > /etc/paddle-optim/constraints.txt \
 && grep -qiE '^paddlepaddle' /etc/paddle-optim/constraints.txt \
 && python -m pip install --no-cache-dir /tmp/paddle-optim \
 && python -m pip list --format=freeze | grep -iE '^(paddlepaddle(-gpu)?|numpy)==' \
      | diff /etc/paddle-optim/constraints.txt - \
 && rm -rf /tmp/paddle-optim \
 && paddle-optim --help > /dev/null

COPY configs ./configs
COPY scripts ./scripts

# A non-root account (skipped when the base already has one with this id), owning only what jobs
# write: data, output and the launcher's default log directory.
RUN if ! getent passwd "${USER_UID}" > /dev/null; then \
        useradd --uid "${USER_UID}" --user-group --create-home --shell /bin/bash paddle; \
    fi \
 && mkdir -p /workspace/data /workspace/output \
 && chown "${USER_UID}" /workspace /workspace/data /workspace/output
USER ${USER_UID}

VOLUME ["/workspace/data", "/workspace/output"]

ENTRYPOINT ["paddle-optim"]
CMD ["train", "-c", "configs/quickstart.yaml"]
