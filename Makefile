# The front door: `make run` serves demo data, `make test` proves it works.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
GOCTL   := go tool goctl
# The database image for tests and `make run`: the official image where a
# registry is reachable, else one built here from Debian's MariaDB
# (.ci/images/db-image.sh decides and prints the name; set DBTEST_IMAGE to
# choose yourself).
WITH_DB_IMAGE = DBTEST_IMAGE="$${DBTEST_IMAGE:-$$(.ci/images/db-image.sh)}"
# The Redis image (rate limit counters) for the same, chosen the same way:
# the official redis:7, else one built here from Debian's redis-server
# (.ci/images/redis-image.sh; set REDIS_TEST_IMAGE to choose yourself).
WITH_REDIS_IMAGE = REDIS_TEST_IMAGE="$${REDIS_TEST_IMAGE:-$$(.ci/images/redis-image.sh)}"

.PHONY: all gen gen-check build run test test-unit test-race fuzz soak e2e lint boundaries fmt vet clean

all: build

## gen: regenerate handlers, routes, types and the OpenAPI document
## (project.api) and models (sql/schema.sql)
gen:
	$(GOCTL) api go --api project.api --dir . --home .goctl >/dev/null
	$(GOCTL) model mysql ddl --src sql/schema.sql --dir model >/dev/null
	gofmt -w internal/types internal/handler model
	tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	$(GOCTL) api swagger --api project.api --dir "$$tmp" >/dev/null; \
	go run ./internal/tools/openapigen -api project.api -swagger "$$tmp/project.json" -out internal/openapi/openapi.json

## gen-check: fail if `make gen` changes the tree (generated code is never hand-edited)
gen-check:
	@before="$$(git status --porcelain --untracked-files=all; git diff)"; \
	$(MAKE) -s gen; \
	after="$$(git status --porcelain --untracked-files=all; git diff)"; \
	if [ "$$before" != "$$after" ]; then \
		echo "make gen changed the tree: generated code differs from project.api / sql/schema.sql:"; \
		git status --short; exit 1; fi
	@echo "gen-check: make gen leaves the tree unchanged"

## build: the service binary, version-stamped
build:
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/project .

## run: serve demo data; without MYSQL_DSN a throwaway database is started in
## Docker, and a throwaway Redis unless REDIS_ADDR names one
run: build
	@if [ -n "$${MYSQL_DSN:-}" ]; then exec bin/project -f etc/project-api.yaml; \
	else go build -o bin/devrun ./internal/tools/devrun && \
		$(WITH_DB_IMAGE) $(if $(REDIS_ADDR),,$(WITH_REDIS_IMAGE)) exec bin/devrun -- bin/project -f etc/project-api.yaml; fi

## test: vet, staticcheck, gen-check, then every test with the race detector
test: lint gen-check test-race

test-race:
	$(WITH_DB_IMAGE) $(WITH_REDIS_IMAGE) go test -race -count=1 -timeout 20m ./...

## test-unit: the tests that need no Docker
test-unit:
	go test -race -count=1 ./internal/logic/... ./internal/handler/... ./internal/server/ ./internal/config/ ./internal/errs/ ./internal/svc/ ./internal/auth/

## fuzz: bounded fuzz runs through the real router: path/query parsing, then
## the Authorization header (FUZZTIME each)
FUZZTIME ?= 20s
fuzz:
	go test -run='^$$' -fuzz=FuzzGetProject -fuzztime=$(FUZZTIME) ./internal/server/
	go test -run='^$$' -fuzz=FuzzAuthorization -fuzztime=$(FUZZTIME) ./internal/server/

## mutants: mutation testing (gremlins) of the rooms that decide who reads
## what and what is written down, each with its own tests; fails below
## MUTANTS_EFFICACY % killed or MUTANTS_COVER % covered (checked here: gremlins
## v0.6.0 ignores its own --threshold-* flags). Reports in .cache/mutants/
GREMLINS_VERSION ?= v0.6.0
MUTANTS_PKGS ?= auth logic/project handler/httpio errs middleware store ratelimit audit
MUTANTS_EFFICACY ?= 90
MUTANTS_COVER ?= 85
.PHONY: mutants
mutants:
	GOBIN="$(CURDIR)/.cache/bin" go install github.com/go-gremlins/gremlins/cmd/gremlins@$(GREMLINS_VERSION)
	@mkdir -p .cache/mutants; failed=""; \
	for p in $(MUTANTS_PKGS); do \
	  echo "== mutants: internal/$$p"; \
	  out=".cache/mutants/$$(echo $$p | tr / -)"; \
	  .cache/bin/gremlins unleash --workers 2 --timeout-coefficient 10 -o "$$out.json" "./internal/$$p" | tee "$$out.txt" \
	    || { failed="$$failed $$p(gremlins failed)"; continue; }; \
	  awk -v e=$(MUTANTS_EFFICACY) -v c=$(MUTANTS_COVER) \
	    '/Test efficacy:/ {te = $$3 + 0} /Mutator coverage:/ {mc = $$3 + 0} END {exit !(te >= e && mc >= c)}' "$$out.txt" \
	    || failed="$$failed $$p"; \
	done; \
	if [ -n "$$failed" ]; then echo "mutants: below $(MUTANTS_EFFICACY) % killed or $(MUTANTS_COVER) % covered:$$failed"; exit 1; fi

## soak: ~1 minute of load against the real stack while the database restarts
soak:
	$(WITH_DB_IMAGE) $(WITH_REDIS_IMAGE) go test -tags soak -race -count=1 -run Soak -v ./internal/integration/soak/

## e2e: build the Docker image and test it next to a database (.ci/e2e.sh)
e2e:
	bash .ci/e2e.sh

lint: vet boundaries
	go tool staticcheck ./...
	go mod tidy -diff

## boundaries: fail if the service binary imports test support, tools or suites
SERVICE_BOUNDARY := github.com/clinicaldata/projectsvc/internal/(testing|tools|integration)(/|$$)
boundaries:
	@bad="$$(go list -deps . | grep -E '^$(SERVICE_BOUNDARY)' || true)"; \
	if [ -n "$$bad" ]; then echo "the service binary (.) imports packages that must never ship:"; echo "$$bad"; exit 1; fi
	@echo "boundaries: the service binary imports no test support, tool or suite"

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin

## bench: load-test the service against a generated data set in a throwaway
## database (wrk + gnuplot are installed if missing; ~10 minutes); writes
## docs/PERFORMANCE.md and docs/performance.png
.PHONY: bench
bench:
	bash internal/tools/bench/tools.sh
	$(WITH_DB_IMAGE) $(WITH_REDIS_IMAGE) go run ./internal/tools/bench/cmd/bench
	@echo "bench: results in docs/PERFORMANCE.md and docs/performance.png (raw runs, CPU profile, service log: .cache/bench/)"
