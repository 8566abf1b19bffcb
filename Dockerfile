FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY consent consent
COPY coordination coordination
COPY projections projections
COPY adapters adapters
RUN pip install --no-cache-dir . && useradd --system --uid 10001 samverkan
# Anchors of the disclosure log (SAMVERKAN_ANCHOR_DIR in docker-compose.yml): a volume there is writable by the service.
RUN mkdir /anchors && chown samverkan /anchors
USER samverkan
WORKDIR /data
ENTRYPOINT ["samverkan"]
