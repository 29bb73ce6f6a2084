# Charter policy decision point: a container image for a central PDP Deployment or a sidecar.
#
#   docker build -t charter .
#   docker run -p 50051:50051 -p 8080:8080 -v charter-data:/var/lib/charter charter
#
# Configuration is by CHARTER_* environment variables, the same as `charter serve`'s flags.
# Bundled policies live in /app/policies (mount your own there, or point CHARTER_POLICIES
# elsewhere); attribute data (LMDB) lives on the /var/lib/charter volume. See docs/deploying.md.
# scripts/image-test.sh builds and runs this file unchanged without a Docker engine.

# ---- build: compile TypeScript to dist/ ------------------------------------------------------
FROM node:24.21.0-bookworm-slim AS build
WORKDIR /src
# Dependencies first, so this layer is reused until the lockfile changes. Scripts are skipped
# here (`prepare` would compile before the sources are copied); the build runs explicitly below.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --no-update-notifier
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies, compiled code, bundled policies ----------------------
FROM node:24.21.0-bookworm-slim
LABEL org.opencontainers.image.title="charter" \
      org.opencontainers.image.description="Charter ABAC policy decision point (gRPC, AuthZEN)" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
WORKDIR /app
# Production dependencies only. --ignore-scripts: `prepare` would need the dev toolchain, and
# lmdb's native code comes prebuilt in its @lmdb/lmdb-linux-* package.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --no-update-notifier \
 && npm cache clean --force \
 && rm -rf /root/.npm /tmp/*
COPY --from=build /src/dist ./dist
COPY bin ./bin
COPY proto ./proto
COPY schema ./schema
COPY policies ./policies
COPY deploy/image/healthcheck.mjs ./healthcheck.mjs
# A fixed numeric non-root user, so Kubernetes' runAsNonRoot can verify it. The application
# files stay owned by root: the server cannot rewrite its own code or bundled policies.
RUN groupadd --system --gid 10001 charter \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/charter --no-create-home \
      --shell /usr/sbin/nologin charter \
 && mkdir -p /var/lib/charter \
 && chown 10001:10001 /var/lib/charter
ENV CHARTER_HOST=0.0.0.0 \
    CHARTER_GRPC_PORT=50051 \
    CHARTER_HTTP_PORT=8080 \
    CHARTER_POLICIES=/app/policies \
    CHARTER_DATA=/var/lib/charter \
    CHARTER_LOG_LEVEL=info
VOLUME ["/var/lib/charter"]
EXPOSE 50051 8080
USER 10001:10001
# No --start-period: dockerfilelint 1.8 rejects the flag; start-up takes seconds, well inside
# three 15 s intervals.
HEALTHCHECK --interval=15s --timeout=3s --retries=3 CMD ["node", "/app/healthcheck.mjs"]
# Exec form: node is PID 1 and receives SIGTERM directly; `charter serve` drains and exits on it.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/bin/charter.js"]
CMD ["serve"]
