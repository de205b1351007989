# syntax=docker/dockerfile:1
# synddb-validator image. Operator notes: docs/operations.md#docker-image
#
#   docker build -t synddb-validator .
#   docker run -v synddb-data:/data -p 8080:8080 -e SEQUENCER_URL=... -e SEQUENCER_PUBKEY=0x... synddb-validator
#
# Every RUN below that builds or installs code is a command the test suite runs itself (`npm test`
# in CI runs scripts/toolchain.mjs, then the check script's build task and the release tests in
# tests/release/test/pack/packed-packages.test.ts), so the image is built the way the tests prove;
# only the directories differ. The one other RUN creates /data for the unprivileged user.
# No container runtime was available where this file was written: the steps are the tested
# commands, but the image build itself has not been run.

# ---- build: the workspace, built and packed ------------------------------------------------------
FROM node:24-bookworm-slim AS build

# pnpm 10 through npm: the command scripts/toolchain.mjs runs when pnpm 10 is not on PATH.
RUN npm install --no-save --no-audit --no-fund --prefix /opt/pnpm pnpm@10
ENV PATH=/opt/pnpm/node_modules/.bin:$PATH

# A C compiler for @synddb/applier's native BLAKE3 kernel, which its `pnpm build` compiles
# (packages/applier/native/build.mjs) and fails without on x86-64 Linux; Node's headers come
# with this image. CI machines have gcc already: this RUN is the one build step the tests do not run.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
  && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# What scripts/toolchain.mjs runs before every check.
RUN pnpm install --frozen-lockfile
# turbo's build task, which the check script runs before the release tests.
RUN pnpm build
# Packs every publishable package into /release and writes /release/manifest.json (the release
# test runs this script the same way, into a temp directory).
RUN node scripts/pack-packages.mjs /release

# ---- runtime: the packed tarballs installed with npm, production dependencies only -------------
FROM node:24-bookworm-slim AS runtime

WORKDIR /src
COPY --from=build /release /release
COPY scripts/install-packed.mjs scripts/install-packed.mjs
# synddb-validator and the @synddb/* tarballs it depends on (pinned to /release by overrides),
# third-party dependencies from the registry, no dev dependencies: the release test's
# "validator-only" install, with the same arguments. (The npm cache stays out of the image.)
RUN --mount=type=cache,target=/root/.npm \
  node scripts/install-packed.mjs /release /opt/synddb-validator --only=synddb-validator --omit=dev
ENV PATH=/opt/synddb-validator/node_modules/.bin:$PATH

# The replica lives in /data (DATABASE_PATH defaults to /data/validator.db), owned by the
# unprivileged user the validator runs as; a named volume inherits this owner and mode.
RUN mkdir -p /data && chown node:node /data && chmod 0700 /data
VOLUME /data
WORKDIR /data
USER node

# Main API (BIND_ADDRESS) and, in bridge signer mode, the signature API (BRIDGE_SIGNATURE_ENDPOINT).
EXPOSE 8080 8081

# Liveness on /health with node itself (the slim image has no curl), on BIND_ADDRESS's port.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "const a=process.env.BIND_ADDRESS||'0.0.0.0:8080';fetch('http://127.0.0.1:'+a.slice(a.lastIndexOf(':')+1)+'/health',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

ENTRYPOINT ["synddb-validator"]
