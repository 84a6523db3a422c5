# podsizer image: the per-cluster fleet CronJob (deploy/fleet), the metrics-server collector
# (deploy/collector) and the central `podsizer fleet report` all run this one binary.
#   docker build -t ghcr.io/podsizer/podsizer:0.1.0 .
#
# Stage 1 builds the workspace with the release profile (the only profile), --locked so the
# image gets exactly Cargo.lock's dependencies.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
# Build settings the measured figures depend on (mimalloc's lazy arena commit: peak RSS).
COPY .cargo ./.cargo
# The workspace: the pure core crate and the root crate.
COPY crates ./crates
COPY src ./src
# Compiled into the binary: the report font (assets/) and the demo's GitOps tree and week (fixtures/).
COPY assets ./assets
COPY fixtures ./fixtures
# Cargo.toml lists the benches as [[bench]] targets: cargo reads the manifest only with them present.
COPY benches ./benches
RUN cargo build --release --locked --bin podsizer \
    && strip target/release/podsizer \
    && target/release/podsizer --version

# Stage 2: glibc and CA certificates (S3, HTTPS Prometheus), no shell, no package manager, uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/podsizer /usr/local/bin/podsizer
USER 65532:65532
# A read-only root file system: the S3 mirror and temp files go to mounted volumes.
ENV PODSIZER_CACHE_DIR=/cache TMPDIR=/tmp
ENTRYPOINT ["/usr/local/bin/podsizer"]
CMD ["--help"]
