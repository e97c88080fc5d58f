# syntax=docker/dockerfile:1
# One static binary serves both roles: `lethe manager` (the Deployment) and
# `lethe worker` (the Jobs that touch tenant databases run this same image).
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/lethe .

# No shell, no package manager; uid/gid 65532 as the chart's and the Jobs' runAsUser.
FROM gcr.io/distroless/static:nonroot
LABEL org.opencontainers.image.source="https://github.com/lethe-operator/lethe" \
      org.opencontainers.image.description="Lethe: a Kubernetes operator enforcing the GDPR on multi-tenant SaaS databases"
COPY --from=build /out/lethe /lethe
USER 65532:65532
ENTRYPOINT ["/lethe"]
CMD ["manager"]
