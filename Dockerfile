FROM python:3.12-slim
# cpu (default), cuda12 (NVIDIA GPU hosts) or tpu (Cloud TPU VMs): which JAX backend to install.
ARG JAX_ACCELERATOR=cpu
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml package.json package-lock.json ./
COPY judging judging
COPY training training
COPY evaluation evaluation
COPY webapp webapp
COPY static static
COPY manage.py ./
RUN pip install --no-cache-dir -e ".[prod]" && npm ci --no-audit --no-fund
RUN if [ "$JAX_ACCELERATOR" != "cpu" ]; then \
      pip install --no-cache-dir "jax[$JAX_ACCELERATOR]==$(python -c 'import jax; print(jax.__version__)')"; \
    fi
EXPOSE 8000
