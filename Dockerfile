# Gatehouse container image: a Rust build stage and a distroless runtime (glibc, CA
# certificates, no shell), running as an unprivileged user. Build with
#   docker build -t gatehouse .        (or: buildah bud -t gatehouse .)
# The Nix flake (flake.nix) builds the same layout with dockerTools.buildLayeredImage.

FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p gatehouse \
 && install -D -m 0755 target/release/gatehouse /out/usr/local/bin/gatehouse \
 && install -d -m 0700 -o 65532 -g 65532 /out/var/lib/gatehouse

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/ /
USER 65532:65532
ENV GATEHOUSE_LISTEN__HTTP=0.0.0.0:9000 \
    GATEHOUSE_LISTEN__METRICS=0.0.0.0:9300 \
    GATEHOUSE_DATA_DIR=/var/lib/gatehouse
VOLUME ["/var/lib/gatehouse"]
EXPOSE 9000 9300
HEALTHCHECK --interval=10s --timeout=6s --start-period=20s \
    CMD ["/usr/local/bin/gatehouse", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/gatehouse"]
CMD ["serve"]
