# Tsunagu: one image for the web process, the Celery worker and the beat scheduler.
#
#   docker build -t tsunagu .                       # python:3.11-slim, wheels from PyPI
#   buildah bud --build-arg BASE_IMAGE=localhost/tsunagu-base:bookworm \
#       --build-arg PYTHON=python3 -t tsunagu .      # an offline build (bin/image-smoke)
#
# Dependencies come from requirements.lock with their hashes. Wheels placed in docker/wheels/
# (`pip wheel -r requirements.lock -w docker/wheels`) are used instead of an index: then the
# build needs no network. The image runs as an unprivileged user; the command picks the role
# (see compose.yaml and docs/containers.md).

ARG BASE_IMAGE=python:3.11-slim

# --- build: a virtualenv with the locked dependencies, static files and compiled messages ----
FROM ${BASE_IMAGE} AS build
ARG PYTHON=python
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
# msgfmt compiles the Japanese/English catalogs; the debootstrapped base already has it.
RUN command -v msgfmt >/dev/null || { apt-get update \
    && apt-get install -y --no-install-recommends gettext && rm -rf /var/lib/apt/lists/*; }
WORKDIR /app
COPY requirements.lock ./
COPY docker/wheels/ /wheels/
RUN ${PYTHON} -m venv /opt/venv \
    && if ls /wheels/*.whl >/dev/null 2>&1; then \
         /opt/venv/bin/pip install --no-index --find-links /wheels --require-hashes \
           -r requirements.lock; \
       else \
         /opt/venv/bin/pip install --require-hashes -r requirements.lock; \
       fi
COPY manage.py pyproject.toml ./
COPY tsunagu/ tsunagu/
COPY relay/ relay/
COPY attendance/ attendance/
COPY conferences/ conferences/
COPY duework/ duework/
COPY notifications/ notifications/
COPY consent/ consent/
COPY agencies/ agencies/
COPY audit/ audit/
COPY api/ api/
COPY ops/ ops/
COPY csvexport/ csvexport/
COPY security/ security/
COPY locale/ locale/
# Settings need a database URL and key to load; neither is used by these two commands.
RUN DATABASE_URL=sqlite:////tmp/build.sqlite3 SECRET_KEY=build-only TSUNAGU_VAR_DIR=/tmp/var \
      /opt/venv/bin/python manage.py collectstatic --no-input -v0 \
    && DATABASE_URL=sqlite:////tmp/build.sqlite3 SECRET_KEY=build-only TSUNAGU_VAR_DIR=/tmp/var \
      /opt/venv/bin/python manage.py compilemessages -v0 \
    && mkdir -p /app/static && cp -a /tmp/var/static/. /app/static/

# --- runtime: the virtualenv and the code, no compilers, no build tools, not root ------------
FROM ${BASE_IMAGE}
RUN (getent group tsunagu || groupadd --system --gid 10001 tsunagu) \
    && (getent passwd tsunagu || useradd --system --uid 10001 --gid tsunagu \
         --home-dir /app --shell /usr/sbin/nologin tsunagu) \
    && mkdir -p /var/lib/tsunagu && chown tsunagu:tsunagu /var/lib/tsunagu
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=root:root /app /app
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TSUNAGU_VAR_DIR=/var/lib/tsunagu \
    STATIC_ROOT=/app/static \
    LOG_FORMAT=json
USER tsunagu
EXPOSE 8000
# The web process; compose.yaml runs the worker and beat from the same image.
CMD ["gunicorn", "-c", "python:ops.gunicorn_conf", "tsunagu.wsgi:application"]
