# One static binary serves both roles: `lethe manager` and `lethe worker`.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /lethe .

FROM gcr.io/distroless/static:nonroot
COPY --from=build /lethe /lethe
USER 65532:65532
ENTRYPOINT ["/lethe"]
CMD ["manager"]
