# syntax=docker/dockerfile:1
#
# Tandem in a container: one static-ish binary with the web client inside.
#
#   docker build -t tandem .
#   docker run -p 3030:3030 -v tandem-data:/data tandem
#
# Stage 1 builds the WASM core, the web client and the release binary;
# stage 2 runs it as a non-root user from a minimal image.

FROM rust:1.95-bookworm AS build
# Node 20 for the web build (Debian bookworm's Node is too old for Vite),
# taken from the official image rather than a third-party apt source.
COPY --from=node:20-bookworm-slim /usr/local/bin/node /usr/local/bin/node
COPY --from=node:20-bookworm-slim /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
WORKDIR /src
COPY . .
# build-web.sh builds the WASM module (installing the wasm32 target and the
# matching wasm-bindgen-cli) and the web client into web/dist, which the
# release build then embeds.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    scripts/build-web.sh \
    && cargo build --release -p tandem-server \
    && cp target/release/tandem /usr/local/bin/tandem \
    && mkdir -p /data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /usr/local/bin/tandem /usr/local/bin/tandem
COPY --from=build --chown=65532:65532 /data /data
ENV BIND_ADDR=0.0.0.0 \
    PORT=3030 \
    SQLITE_URI=/data/tandem.db
VOLUME ["/data"]
EXPOSE 3030
# distroless's "nonroot" user, by number so any runtime can resolve it.
USER 65532:65532
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/tandem", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/tandem"]
