# One image for the three services; the command picks which one runs.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml constraints.txt README.md alembic.ini ./
COPY services ./services
COPY migrations ./migrations
RUN pip install --no-cache-dir -c constraints.txt -e . \
    && useradd --system --uid 10001 safework
USER safework
EXPOSE 8000 8001 8002 9100 9101 9102 9103
CMD ["uvicorn", "safework_gateway.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000", "--http", "safework_common.server:HttpToolsProtocol"]
