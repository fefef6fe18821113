# The production image: gunicorn web, Celery worker and beat all run from it.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.lock .
RUN pip install --require-hashes -r requirements.lock

COPY . .
# collectstatic needs a key to import settings; the real one comes from the environment.
RUN SECRET_KEY=build-only DEBUG=0 python manage.py collectstatic --noinput -v0 \
    && useradd --system --home /app aftercare \
    && mkdir -p /app/var/media && chown -R aftercare /app/var /app/staticfiles
USER aftercare

EXPOSE 8000
CMD ["bin/start-web"]
