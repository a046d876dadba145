# syntax=docker/dockerfile:1
# The example provider (examples/server.ts) as a production image:
#   docker build -t fastify-oidc-provider-example .
#   docker run -p 127.0.0.1:3000:3000 -e SECRET_KEY=... -v oidc-keys:/app/keys fastify-oidc-provider-example
# or, with Redis: docker compose up --build (see docker-compose.yml).
ARG NODE_VERSION=20

# --- build: every dependency, TypeScript compiled to JavaScript -------------------------------
FROM node:${NODE_VERSION}-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json tsconfig.examples.json ./
COPY scripts ./scripts
COPY lib ./lib
COPY examples ./examples
# dist/ is the published library (and the keys CLI, dist/cli/bin.js). dist-examples/ is the example
# server with the library it imports, compiled so the runtime needs no tsx; the page templates
# (http/pages/views/, next to install.js) and the PostgreSQL migrations (adapters/store/migrations/,
# next to postgres-migrate.js) are files tsc does not copy.
RUN npm run build \
 && npx tsc -p tsconfig.examples.json \
 && cp -R lib/http/pages/views dist-examples/lib/http/pages/views \
 && cp -R lib/adapters/store/migrations dist-examples/lib/adapters/store/migrations

# --- production dependencies only -------------------------------------------------------------
FROM node:${NODE_VERSION}-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# No dependency needs an install script; skipping them narrows what a compromised package can do.
# The example server is a host app: it brings its own fastify, ioredis and pg (a devDependency
# and optional peers of the library, issues 26 and 27), made dependencies here at the lock file's
# versions, so one image runs on memory, Redis or PostgreSQL.
RUN npm pkg set "dependencies.fastify=$(node -p "require('./package-lock.json').packages['node_modules/fastify'].version")" \
      "dependencies.ioredis=$(node -p "require('./package-lock.json').packages['node_modules/ioredis'].version")" \
      "dependencies.pg=$(node -p "require('./package-lock.json').packages['node_modules/pg'].version")" \
 && npm pkg delete devDependencies.fastify devDependencies.ioredis devDependencies.pg \
 && npm install --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# --- runtime ----------------------------------------------------------------------------------
FROM node:${NODE_VERSION}-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    KEYS_DIR=/app/keys
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/dist-examples ./dist-examples
COPY package.json ./
# The signing keys live in a volume mounted here, owned by the unprivileged user and readable by
# it alone. The image itself never contains a private key (.dockerignore excludes keys/).
RUN mkdir -p /app/keys && chown node:node /app/keys && chmod 0700 /app/keys
# `node` (uid 1000) comes with the official image.
USER node
EXPOSE 3000
# slim has no curl: ask node itself. Readiness (/health/ready) pings the store, so the container
# shows "unhealthy" while Redis is down and "healthy" again once it is back. Docker itself does not
# restart an unhealthy container (compose's restart policy acts on exit only); an orchestrator
# that does should probe /health/live for restarts and /health/ready for traffic.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Keys CLI inside the container: node dist/cli/bin.js keys rotate (KEYS_DIR is already set).
CMD ["node", "dist-examples/examples/server.js"]
