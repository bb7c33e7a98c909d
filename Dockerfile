FROM python:3.12-slim
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml package.json package-lock.json ./
COPY judging judging
COPY training training
COPY webapp webapp
COPY static static
COPY manage.py ./
RUN pip install --no-cache-dir -e ".[prod]" && npm ci --no-audit --no-fund
EXPOSE 8000
