# syntax=docker/dockerfile:1
# One image for the API, the Temporal worker and the migrator: `npm run api` by default,
# `npm run worker` / `npm run migrate` as the command override (see docker-compose.yml).
ARG NODE_IMAGE=node:24-bookworm-slim

# Production dependencies only. devDependencies hold the `node` npm package (Node 24 for
# machines with an older one), jest, eslint and types: the base image already is Node 24.
# Install scripts stay off: argon2 loads its bundled prebuilt binary, @swc/core its
# platform package, and nothing else needs a build step.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund
# The Temporal core bridge ships a native library for five platforms (~150 MB); keep this one.
RUN set -e; releases=node_modules/@temporalio/core-bridge/releases; \
    if [ -d "$releases" ]; then \
      keep="$(uname -m)-unknown-linux-gnu"; \
      test -d "$releases/$keep"; \
      find "$releases" -mindepth 1 -maxdepth 1 ! -name "$keep" -exec rm -rf {} +; \
    fi

# The workflow bundle is built once here, so the worker starts without webpack and every
# replica runs byte-identical workflow code.
FROM deps AS workflow-bundle
COPY tsconfig.json ./
COPY src/ src/
COPY workflows/ workflows/
COPY activities/ activities/
RUN npm run build:workflows && test -s dist/workflow-bundle.js && test -s dist/workflow-bundle.sources.json

FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    API_HOST=0.0.0.0 \
    API_PORT=3000 \
    DATA_DIR=/var/lib/sadasya/data \
    STORAGE_DIR=/var/lib/sadasya/storage
# The code stays root-owned and read-only to the process; only the data directories are
# the node user's (a named volume mounted there inherits this ownership).
RUN mkdir -p /var/lib/sadasya/data /var/lib/sadasya/storage \
    && chown -R node:node /var/lib/sadasya
COPY --from=deps /app/node_modules node_modules/
COPY package.json package-lock.json ./
COPY src/ src/
COPY workflows/ workflows/
COPY activities/ activities/
COPY api/ api/
COPY migrations/ migrations/
COPY data/ data/
COPY docker/postgres-init/sadasya.psql docker/postgres-init/sadasya.psql
COPY --from=workflow-bundle /app/dist/ dist/
USER node
EXPOSE 3000
CMD ["npm", "run", "api"]
