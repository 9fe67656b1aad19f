# syntax=docker/dockerfile:1
#
# Loan default service: production image.
#
#   docker build -t loan-default-service .
#   docker run --init --rm -p 5000:5000 loan-default-service
#
# Signals: the process is `node dist/src/server.js` (exec form, no shell in between), so `docker stop`'s
# SIGTERM reaches node directly; src/server.ts handles SIGTERM/SIGINT (stop accepting, finish in-flight
# requests, exit 0). Run with `docker run --init` (compose: `init: true`; in Kubernetes node is PID 1 and handles SIGTERM itself) so that
# a tiny init (Docker's tini) is PID 1: it forwards signals and reaps zombies, and node is not PID 1
# (the kernel applies no default signal action to PID 1, so a signal node has no handler for, e.g.
# SIGHUP/SIGQUIT, would otherwise be ignored). We do not bake tini into the image: --init provides the
# same binary without an extra apt layer, and node still shuts down cleanly on SIGTERM without it.
#
# The build context needs model-artifacts/<name>/<version>.json (run `npm run train` first, or use the committed ones).
# For reproducible builds, pin the base image by digest: NODE_IMAGE=node:24-slim@sha256:...

ARG NODE_IMAGE=node:24-slim

# ---- build: compile TypeScript with the dev dependencies --------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY plugins ./plugins
COPY scripts ./scripts
RUN npm run build

# ---- runtime: production dependencies, compiled JavaScript and the model artifacts only ------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=5000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
# Owned by root and read-only for the service user: the process cannot modify its code or models.
COPY --from=build /app/dist ./dist
COPY model-artifacts ./model-artifacts
# The web page at / and its sample tape.
COPY public ./public
COPY samples ./samples
USER node
EXPOSE 5000
# Liveness over loopback with node's built-in fetch (slim images have no curl/wget).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 5000) + '/health/live', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/src/server.js"]
