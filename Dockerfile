# syntax=docker/dockerfile:1
#
# One image with the four service binaries (travel-auth, travel-flight,
# travel-hotel, travel-reservation); each Kubernetes Deployment picks its binary
# with `command`. One image because the four share one workspace, one
# Cargo.lock and one release: a single build, a single push, a single tag to
# roll out, and no chance of running flight from one commit against
# reservation from another. The extra binaries cost a few MiB per node, once.
#
#   docker build -t REGISTRY/travel:VERSION .
#   docker run --rm REGISTRY/travel:VERSION travel-auth --generate-signing-key
#
# Build stage: the Rust toolchain the workspace pins (rust-version = 1.95), on
# Debian 12 (bookworm) so that the binaries link against the same glibc as the
# distroless runtime below. No protoc is needed (build.rs uses protox); SQLite
# is compiled in (libsqlite3-sys, bundled) with the image's gcc.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# Cache mounts (BuildKit) keep the registry and the target directory between
# builds; the binaries are copied out of the cache before the layer ends.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
        -p travel-auth -p travel-flight -p travel-hotel -p travel-reservation \
 && mkdir -p /out \
 && cp target/release/travel-auth target/release/travel-flight \
       target/release/travel-hotel target/release/travel-reservation /out/

# Runtime: distroless (glibc, libgcc, CA certificates; no shell, no package
# manager), as the image's `nonroot` user (uid and gid 65532). The services
# write nothing to the filesystem when their databases are PostgreSQL, so the
# root filesystem can be mounted read-only.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
EXPOSE 50051 50052 50053 50054 9051 9052 9053 9054
# No default service: every Deployment (and `docker run`) names its binary.
CMD ["travel-auth", "--help"]
