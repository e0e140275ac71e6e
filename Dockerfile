# syntax=docker/dockerfile:1
# Two stages: wheels are built with compilers around, the runtime image has none of them.

FROM python:3.11-slim-bookworm AS build
RUN apt-get update \
 && apt-get install --no-install-recommends -y build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY api ./api
COPY tenants ./tenants
COPY domain ./domain
COPY workers ./workers
COPY migrations ./migrations
COPY bench ./bench
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    RENSHI_HOME=/var/lib/renshi
RUN groupadd --system renshi \
 && useradd --system --gid renshi --home-dir /var/lib/renshi --create-home --shell /usr/sbin/nologin renshi
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER renshi
WORKDIR /var/lib/renshi
# Without DATABASE_URL the container runs the embedded PostgreSQL under RENSHI_HOME:
# mount a volume there to keep the data (and the generated keys).
VOLUME ["/var/lib/renshi"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
ENTRYPOINT ["renshi"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
