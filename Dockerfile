# syntax=docker/dockerfile:1
# Multi-stage build: a static binary on a distroless, non-root base.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# `switchboard version` prints VERSION: docker build --build-arg VERSION=$(git describe --tags --always) .
ARG VERSION=dev
# The test suite runs this exact command (cmd/switchboard/dockerfile_test.go).
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/switchboard ./cmd/switchboard

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/switchboard /usr/local/bin/switchboard
COPY rules.example.yaml /etc/switchboard/rules.yaml
COPY templates /etc/switchboard/templates
WORKDIR /var/lib/switchboard
USER nonroot:nonroot
ENV SWITCHBOARD_RULES=/etc/switchboard/rules.yaml \
    SWITCHBOARD_TEMPLATES=/etc/switchboard/templates \
    SWITCHBOARD_DATA=/var/lib/switchboard \
    SWITCHBOARD_LISTEN=:8080 \
    SWITCHBOARD_LOG_FORMAT=json
EXPOSE 8080
VOLUME ["/var/lib/switchboard"]
ENTRYPOINT ["/usr/local/bin/switchboard"]
CMD ["serve"]
