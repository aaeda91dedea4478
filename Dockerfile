# hsn: one image holding the five services; the container's command picks one
# (hsn-gateway by default, or hsn-cache, hsn-query, hsn-agent-bus, hsn-monitor).
#
#   docker build -t hsn .
#   docker build --build-arg HSN_BASE_IMAGE=my-registry/debian:bookworm-slim -t hsn .
#
# Works with the classic builder and with BuildKit (no BuildKit-only syntax).
# See docs/DEPLOY.md.
ARG HSN_BASE_IMAGE=debian:bookworm-slim

# ---- build: compilers and the -dev packages -------------------------------
FROM ${HSN_BASE_IMAGE} AS build
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
# The package list lives in one place, deploy/install-deps.sh; this layer is
# rebuilt only when that script changes.
COPY deploy/install-deps.sh deploy/install-deps.sh
RUN sh deploy/install-deps.sh build && rm -rf /var/lib/apt/lists/*
COPY Makefile ./
COPY proto proto
COPY common common
COPY services services
RUN make -j"$(nproc)" BUILD=/build all \
    && strip --strip-debug /build/bin/hsn-*

# ---- runtime: only the shared libraries the binaries load ----------------
FROM ${HSN_BASE_IMAGE}
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        libczmq4 libzmq5 libhiredis0.14 libmsgpackc2 libpq5 libcivetweb1 libyajl2 zlib1g \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /nonexistent \
        --no-create-home --shell /usr/sbin/nologin hsn
COPY --from=build /build/bin/ /usr/local/bin/
COPY deploy/docker/hsn-healthcheck /usr/local/bin/hsn-healthcheck
# The named queries, where QUERIES_FILE's default (deploy/queries.sql)
# finds them from the working directory.
WORKDIR /etc/hsn
COPY deploy/queries.sql deploy/queries.sql
# Fail the build, not the first start, when a library is missing.
RUN chmod 0755 /usr/local/bin/hsn-* \
    && for b in /usr/local/bin/hsn-gateway /usr/local/bin/hsn-cache /usr/local/bin/hsn-query \
                /usr/local/bin/hsn-agent-bus /usr/local/bin/hsn-monitor; do \
           if ldd "$b" | grep 'not found'; then echo "missing libraries for $b" >&2; exit 1; fi; \
       done
# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
EXPOSE 8080 5555 5556
# The services drain on SIGTERM (SHUTDOWN_TIMEOUT_MS) and exit 0. They run as
# PID 1 with no shell in between: they block SIGTERM and read it from a
# signalfd, which works for PID 1 too.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 CMD ["hsn-healthcheck", "ready"]
CMD ["hsn-gateway"]
