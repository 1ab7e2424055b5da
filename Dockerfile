# syntax=docker/dockerfile:1
#
# One image for the three certstream services; the container command picks the service:
#   certstream-gateway --standalone    whole pipeline in one process, no NATS (the default)
#   certstream-ingest  --nats-url ...  polls CT logs, publishes raw entries to JetStream
#   certstream-decoder --nats-url ...  decodes raw entries, publishes the client messages
#   certstream-gateway --nats-url ...  relays the messages to WebSocket, SSE and TCP clients

# The toolchain the workspace is tested with; Cargo.lock may need a newer one than the
# workspace's rust-version.
ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
WORKDIR /src
COPY . .
# The cache mounts keep downloaded crates and compiled dependencies between builds, so the
# binaries are copied out of /src/target inside the same RUN.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bins \
        -p certstream-ingest -p certstream-decoder -p certstream-gateway \
    && mkdir -p /out \
    && cp target/release/certstream-ingest target/release/certstream-decoder \
          target/release/certstream-gateway /out/

FROM debian:${DEBIAN_RELEASE}-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 certstream \
    && useradd --system --uid 10001 --gid certstream --home-dir /data \
        --shell /usr/sbin/nologin certstream \
    && mkdir /data \
    && chown certstream:certstream /data

COPY --from=builder /out/certstream-ingest /out/certstream-decoder /out/certstream-gateway /usr/local/bin/
COPY deploy/docker/healthcheck.sh /usr/local/bin/certstream-healthcheck

# Per-log cursors of single-process mode and of ingest persist here.
ENV CERTSTREAM_CT_LOG_STATE_FILE=/data/state.json
VOLUME /data
WORKDIR /data
USER 10001:10001

# 8080: HTTP, WebSocket and SSE (gateway); 8081: raw TCP (gateway, when enabled);
# 8082: /metrics and /health of ingest and decoder.
EXPOSE 8080 8081 8082

# bash (part of the base image) does the HTTP request, so no curl or wget is needed.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/certstream-healthcheck"]

CMD ["certstream-gateway", "--standalone"]
