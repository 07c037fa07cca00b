# syntax=docker/dockerfile:1
# capi-connector: one image for the push sidecar (`serve`) and the one-shot jobs (`poll --once`,
# `flush --once`, `reconcile`). No HEALTHCHECK here: the sidecar's health check is declared in its
# task definition (`capi-connector health --url http://127.0.0.1:8088/readyz`), since a one-shot
# job has nothing to check.
#
# The build stage runs the same `swift build` CI runs, in release mode with the Swift runtime linked
# statically. There is no container engine on the development machine: this file is checked by
# reading, and its commands by CI.

FROM swift:6.3-bookworm AS build
WORKDIR /src
ENV SWIFT_DETERMINISTIC_HASHING=1
# Dependencies first, so a source change does not fetch them again.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product capi-connector --static-swift-stdlib \
    && install -D "$(swift build -c release --show-bin-path)/capi-connector" /out/capi-connector

FROM debian:bookworm-slim
# CA roots for Meta and RDS, time zones for ad accounts' local days.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin capi
WORKDIR /app
COPY --from=build /out/capi-connector /usr/local/bin/capi-connector
COPY manifests ./manifests
COPY schemas ./schemas
# The embedded SQLite store's default folder, writable by the service user (mount a volume for it).
RUN mkdir -p /app/.capi && chown capi /app/.capi
USER 10001
ENV CAPI_LISTEN=0.0.0.0:8088
EXPOSE 8088
ENTRYPOINT ["/usr/local/bin/capi-connector"]
CMD ["serve"]
