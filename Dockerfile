# syntax=docker/dockerfile:1
# cxone-orchestrator: one image, every role. The role is the command argument:
#   docker run IMAGE api | worker | sandbox | all        (default: all)

# ── build: full dependency tree, compile TypeScript to dist/ ──
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ── runtime: production dependencies and the compiled code only, as a non-root user ──
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    SANDBOX_PORT=4010
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY examples ./examples
# The image's stock unprivileged user; nothing under /app is writable by it.
USER node
EXPOSE 3000 4010
# Node is PID 1 and handles SIGTERM itself (drains jobs, then exits 0); run with --init / `init: true`
# so zombie reaping is handled too.
ENTRYPOINT ["node", "dist/main.js"]
CMD ["all"]
