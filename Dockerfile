# gridhub hub image: multi-stage, production dependencies only, runs as the unprivileged `node` user.
# Build: docker build -t gridhub/hub .   (docker-compose.yml builds it for you)

# --- dependencies: native modules (better-sqlite3) are compiled here, with the build tools ---
FROM node:20-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# --- console: built with the dev dependencies (Vite, Preact, ECharts); only dashboards/dist is kept ---
FROM node:20-bookworm-slim AS console
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY scripts/build-console.mjs ./scripts/
COPY dashboards/index.html dashboards/vite.config.ts dashboards/tsconfig.json ./dashboards/
COPY dashboards/src ./dashboards/src
RUN node scripts/build-console.mjs

# --- runtime: no compilers, no dev dependencies, no tests ---
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    GRIDHUB_DATA_DIR=/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY hub/src ./hub/src
COPY hub/examples ./hub/examples
COPY --from=console /app/dashboards/dist ./dashboards/dist
# Node-RED settings, nodes and default flows, for running Node-RED as the hub's child (GRIDHUB_NODE_RED_ENABLED)
COPY flows/settings.js flows/package.json flows/flows.json ./flows/
COPY flows/nodes ./flows/nodes
# /keys: where cluster nodes share the integration key (deploy/docker-compose.cluster.yml)
RUN mkdir -p /data /keys && chown node:node /data /keys
USER node
VOLUME ["/data"]
EXPOSE 1883 8883 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:8080/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "--import", "tsx", "hub/src/main.ts"]
