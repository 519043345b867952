# The projectsvc image: a static, version-stamped binary on scratch, run as a
# non-root user.
#
#   docker build -t projectsvc .                       # with a registry
#   bash .ci/images/golang.sh && \
#     docker build --build-arg BUILDER_IMAGE=projectsvc-golang:1.26 -t projectsvc .
#                                                      # air-gapped (Go proxy only)
#
# Build arguments:
#   BUILDER_IMAGE    Go toolchain image (default: the official golang:1.26-bookworm)
#   RUNTIME_IMAGE    base of the final image (default: scratch)
#   VERSION, COMMIT  stamped into the binary (`/project -version`)
#   GOPROXY          module proxy to download through (default: Go's own default)
#   EXTRA_CA_CERTS   PEM text of extra CA certificates the *build* trusts when
#                    downloading modules, for networks that intercept TLS; they
#                    never reach the final image
#
# No "# syntax=" directive on purpose: BuildKit would pull a frontend image.
# Works with BuildKit and with the classic builder.

ARG BUILDER_IMAGE=golang:1.26-bookworm
ARG RUNTIME_IMAGE=scratch

FROM ${BUILDER_IMAGE} AS build
# Marks this stage's images, which the classic builder keeps untagged, so
# that .ci/e2e.sh can remove the stale ones (the final image has no label).
LABEL com.github.clinicaldata.projectsvc.stage=build
WORKDIR /src
ENV CGO_ENABLED=0

# Modules first: this layer is rebuilt only when go.mod or go.sum change.
ARG GOPROXY
ARG EXTRA_CA_CERTS=
COPY go.mod go.sum ./
RUN set -e; \
	if [ -n "$EXTRA_CA_CERTS" ]; then \
		cat /etc/ssl/certs/ca-certificates.crt > /tmp/build-ca.pem; \
		printf '%s\n' "$EXTRA_CA_CERTS" >> /tmp/build-ca.pem; \
		export SSL_CERT_FILE=/tmp/build-ca.pem; \
	fi; \
	go mod download; \
	rm -f /tmp/build-ca.pem

# Compile the dependencies in a layer of their own too, so that a change to
# the service's code recompiles only the service (minutes -> seconds without
# BuildKit cache mounts). The list is the service's direct imports from
# other modules (go list -deps .); one missing here costs build time only.
RUN go build -mod=readonly -trimpath \
	github.com/MicahParks/jwkset \
	github.com/MicahParks/keyfunc/v3 \
	github.com/go-sql-driver/mysql \
	github.com/golang-jwt/jwt/v5 \
	github.com/prometheus/client_golang/prometheus \
	github.com/prometheus/client_golang/prometheus/collectors \
	github.com/zeromicro/go-zero/core/conf \
	github.com/zeromicro/go-zero/core/logx \
	github.com/zeromicro/go-zero/core/stores/sqlx \
	github.com/zeromicro/go-zero/rest \
	github.com/zeromicro/go-zero/rest/httpx \
	github.com/zeromicro/go-zero/rest/pathvar \
	github.com/zeromicro/go-zero/rest/router \
	go.opentelemetry.io/otel/trace \
	golang.org/x/sync/errgroup \
	golang.org/x/time/rate \
	gopkg.in/yaml.v3

# Declared before the sources so that a code change does not redo these
# (cheap but, on slow storage drivers, not free) steps; only the RUN below
# uses them.
ARG VERSION=dev
ARG COMMIT=unknown
COPY . .
# -mod=readonly: every module must already be in the download layer above.
RUN go build -mod=readonly -trimpath \
		-ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
		-o /out/project . \
	&& install -D -m 0644 etc/project-api.yaml /out/etc/project-api.yaml \
	&& install -d -m 1777 /out/tmp \
	&& /out/project -version

FROM ${RUNTIME_IMAGE}
# CA roots for outbound TLS (e.g. a TLS MySQL or a tracing collector); the
# binary embeds its time zone data (time/tzdata).
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/ /
USER 65532:65532
WORKDIR /
# 8888: the API and its probes (/healthz, /readyz); 6060: go-zero's DevServer
# (/metrics, /debug/pprof).
EXPOSE 8888 6060
# A shell-less image: the binary probes its own /healthz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
	CMD ["/project", "-healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/project"]
CMD ["-f", "etc/project-api.yaml"]
