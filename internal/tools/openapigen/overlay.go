package main

import "github.com/clinicaldata/projectsvc/internal/errs"

// The overlay: everything in the OpenAPI document that project.api cannot
// say, in one place. goctl's api syntax has no way to express any of it:
//
//   - parameter descriptions: goctl copies only a field's trailing comment,
//     and only into the Swagger it writes, never into generated code; a
//     comment on the field in project.api wins over the entry here (the
//     tool then tells you to delete the entry);
//   - parameter bounds and patterns: go-zero's `range=[1:100]` tag option
//     would make goctl emit them, but it also makes go-zero's request parser
//     refuse out-of-range values itself, before the logic and with its own
//     message, and the institutions maximum is configuration, not contract;
//   - string formats (date, date-time): the .api has only Go types;
//   - the error table, the response headers, the security scheme and its
//     scopes: go-zero's middlewares write these, the .api does not know them;
//   - the routes that are served outside project.api (probes, the document).
//
// Every other fact of the document is derived from project.api (parsed by
// goctl's own parser) or taken from goctl's Swagger.

// paramOverlay completes one query or path parameter, by name: a name means
// the same thing on every route that has it.
type paramOverlay struct {
	description string
	min, max    *float64
	pattern     string
	format      string
}

func bound(v float64) *float64 { return &v }

// maxPage is the largest page and the most reports a request may ask for
// (internal/logic: MaxReports and the list routes' limit bound).
const maxPage = 100

var parameters = map[string]paramOverlay{
	"id": {
		description: "The project's id, a positive 64-bit integer.",
		min:         bound(1),
	},
	"reports": {
		description: "How many of the project's latest reports (newest first) the record includes; reports_next pages on through the rest.",
		min:         bound(1), max: bound(maxPage),
	},
	"institutions": {
		description: "How many of the project's institutions (by name, then id) the record includes; institutions_next pages on through the rest. " +
			"Its default and its maximum are not part of this contract: they come from the service's configuration.",
		min: bound(1),
	},
	"limit": {
		description: "The page size: at most this many items.",
		min:         bound(1), max: bound(maxPage),
	},
	"cursor": {
		description: "Where the page starts: the next_cursor of the previous page (for a project's sub-lists also the record's institutions_next or reports_next), " +
			"passed back unchanged with the same filters. Opaque: do not build, parse or store it. Absent for the first page.",
	},
	"status": {
		description: "Only projects whose status is exactly this value (for example recruiting).",
	},
	"phase": {
		description: "Only projects whose phase is exactly this value (for example III).",
	},
	"sponsor": {
		description: "Only projects whose sponsor is exactly this value.",
	},
	"country": {
		description: "Only projects with an institution in this country: an exact match on the institution's country (for example DK).",
	},
	"institution": {
		description: "Only projects in which this institution takes part: the institution's id, a positive integer written in decimal digits.",
		pattern:     `^[1-9][0-9]*$`,
	},
	"updated_since": {
		description: "Only projects updated at or after this instant, an RFC 3339 date-time (for example 2024-11-02T14:05:00Z); the page is then ordered by last update instead of by id.",
		format:      "date-time",
	},
}

// Response fields that are dates or times, by JSON name: the .api types them
// string (Go has no date type goctl would map to a format).
var (
	dateTimeFields = []string{"created_at", "updated_at", "joined_at"}
	dateFields     = []string{"start_date", "end_date", "period_start", "period_end"}
)

// paginationField names the field that makes a route a list route: its 200
// then carries a Link header to the next page.
const paginationField = "next_cursor"

// The error body's codes are the error table's (errs.Codes), so the
// document names every code a client can get, and no other.
var errorCodes = errs.Codes()

const errorDescription = "Every error answer: a stable code clients switch on, and a message for people (no internal detail ever reaches it)."

// Response headers, by name. required marks the ones every answer that
// lists them carries; the others are missing from some answers (a refusal
// before the rate limiter, a 200 without a next page, ...).
type headerOverlay struct {
	description string
	required    bool
	integer     bool // a non-negative integer (delay-seconds), else a string
}

var headers = map[string]headerOverlay{
	"ETag": {description: "A strong validator of the representation, a digest of its exact bytes " +
		"(so the same project with other parameters has another tag). Send it back in If-None-Match to be answered 304 while it is current."},
	"Cache-Control": {description: "private, no-cache on a 200 or 304 (the representation is for this caller only and must be revalidated before each reuse); " +
		"no-store on every other answer."},
	"Vary": {description: "Authorization: the representation depends on the caller's token."},
	"Link": {description: `The next page, when there is one, as an RFC 8288 link with rel="next" (for example </projects?cursor=...&limit=20>; rel="next"); ` +
		"absent on the last page. It carries the same cursor as next_cursor."},
	"WWW-Authenticate": {description: `The RFC 6750 challenge: Bearer realm="project-api", with error="invalid_token" when a token was sent but is not valid, ` +
		`or error="insufficient_scope" and the scopes that would do on a 403.`},
	"Retry-After": {description: "How many seconds to wait before trying again (RFC 9110).", integer: true},
	"Allow":       {description: "The methods the route serves: GET, HEAD."},
	"RateLimit-Policy": {description: "The quota policy that applies to the caller (draft-ietf-httpapi-ratelimit-headers), " +
		`for example "default";q=100;w=60.`},
	"RateLimit": {description: "What is left of the caller's quota and when it resets (draft-ietf-httpapi-ratelimit-headers), " +
		`for example "default";r=42;t=30.`},
	"X-Request-Id": {description: "The id the service gave this request; it is also in the audit trail and the service's logs. Quote it when reporting a problem.",
		required: true},
}

// Which headers each kind of answer carries.
var (
	// securedHeaders: every answer of a route behind the Auth and RateLimit middlewares.
	securedHeaders = []string{"RateLimit-Policy", "RateLimit", "X-Request-Id"}
	// validatorHeaders: a 200 or 304 of such a route.
	validatorHeaders = []string{"ETag", "Cache-Control", "Vary"}
	// errorHeaders: any other answer of such a route.
	errorHeaders = []string{"Cache-Control"}
	// anyHeaders: every answer of the service.
	anyHeaders = []string{"X-Request-Id"}
)

const (
	okDescription          = "The representation, with its validators."
	notModifiedDescription = "Not modified: If-None-Match named the current ETag. No body."
	headDescription        = "The status and headers of the GET, without its body: authenticated, rate-limited and audited like the GET."
	queryDescription       = "A query parameter this operation does not define is refused with 400 invalid_argument, as is a parameter given twice."
)

// errorAnswer is one row of the error table of a secured route.
type errorAnswer struct {
	status      int
	name        string // the components/responses key (HEAD's adds "Head")
	description string
	headers     []string // on top of securedHeaders and errorHeaders
}

var errorAnswers = []errorAnswer{
	{400, "InvalidArgument", "invalid_argument: a parameter is malformed, out of range, given twice or unknown.", nil},
	{401, "Unauthenticated", "unauthenticated: no bearer token, or one that is not valid (signature, issuer, audience, expiry).", []string{"WWW-Authenticate"}},
	{403, "PermissionDenied", "permission_denied: a valid token that grants no project scope.", []string{"WWW-Authenticate"}},
	{404, "NotFound", "not_found: no such project, or a project outside the token's grant (the two answers are identical).", nil},
	{429, "ResourceExhausted", "resource_exhausted: the caller's rate limit is used up; see RateLimit and Retry-After.", []string{"Retry-After"}},
	{405, "MethodNotAllowed", "method_not_allowed: every route serves GET and HEAD only.", []string{"Allow"}},
	{431, "HeaderFieldsTooLarge", "header_too_large: the request's header (the request line and its fields, a token among them) is larger than the service accepts (MaxHeaderBytes).", nil},
	{500, "Internal", "internal: an unexpected failure; it has been logged with the request's id.", nil},
	{503, "Unavailable", "unavailable: the database or the identity provider's keys cannot be reached, the service is overloaded, " +
		"or the audit row could not be written. Retry after Retry-After.", []string{"Retry-After"}},
	{504, "Timeout", "timeout: the request did not complete within the service's deadline.", nil},
}

// Security. The service takes OpenID Connect JWT access tokens as RFC 6750
// bearer tokens and reads two scopes. OpenAPI 3.0 only attaches scopes to
// oauth2 and openIdConnect schemes (an http scheme's scope list MUST be
// empty), and it has no scheme for "a bearer JWT with these scopes". So the
// document names two schemes, one token satisfying both:
//
//   - bearerAuth (http, bearer, JWT) is how the token travels: every client
//     generator understands it and sends Authorization: Bearer <token>;
//   - oidc (openIdConnect) names the provider and carries the scopes, for
//     the tools that obtain tokens (Swagger UI, generators with OIDC/OAuth
//     support).
//
// Every secured operation requires both, with either scope:
//
//	security: [{bearerAuth: [], oidc: [project:read:all]},
//	           {bearerAuth: [], oidc: [project:read]}]
//
// oauth2 would also carry scopes but needs a fixed flow and token URL; the
// service accepts tokens from any flow of the deployment's provider. The
// provider is configuration (Auth.Issuer), so the discovery URL here is a
// placeholder on the reserved .invalid domain: the service substitutes the
// configured issuer when it serves the document (openapi.ForIssuer).
const (
	bearerScheme            = "bearerAuth"
	oidcScheme              = "oidc"
	issuerPlaceholder       = "https://issuer.invalid"
	scopeReadAll            = "project:read:all"
	scopeRead               = "project:read"
	bearerSchemeDescription = "An OpenID Connect JWT access token from the deployment's identity provider (Auth.Issuer), " +
		"sent as Authorization: Bearer <token> (RFC 6750). Its iss, aud and exp are checked, with asymmetric signatures only."
	oidcSchemeDescription = "The same token, and the scopes it must carry: " +
		scopeReadAll + " reads every project; " +
		scopeRead + " reads the projects whose ids are in the token's project_ids claim (an array of integers). " +
		"The provider is the deployment's Auth.Issuer; the document served at /openapi.json names its discovery document."
	securedDescription = "Requires a bearer access token with scope " + scopeReadAll + " (every project) or " +
		scopeRead + " (the projects in its project_ids claim)."
)

// The routes served outside project.api, by internal/server: no generated
// handler, no Auth, Audit or RateLimit middleware, no token.
type unsecuredRoute struct {
	path, operationID, summary, description string
	schema                                  string // components/schemas key of the 200 body
}

const serviceTag = "service"

var unsecuredRoutes = []unsecuredRoute{
	{"/healthz", "getLiveness", "liveness", "200 while the process serves HTTP.", "Liveness"},
	{"/readyz", "getReadiness", "readiness",
		"200 when the service can answer: shutdown has not begun, the identity provider's signing keys are loaded and the database answers. 503 otherwise.",
		"Readiness"},
	{"/openapi.json", "getOpenAPIDocument", "this OpenAPI document", "The service's API contract, generated from project.api.", ""},
}

// probeStatus is the status word of each probe's 200 body.
var probeStatus = map[string]string{"Liveness": "ok", "Readiness": "ready"}

// unsecuredErrors: what a route without middlewares can still answer (the
// response guard's recovery, the load shedder).
var unsecuredErrors = []errorAnswer{
	{500, "", "internal: an unexpected failure; it has been logged with the request's id.", nil},
	{503, "", "unavailable: the service is overloaded (or, for /readyz, not ready or shutting down). Retry after Retry-After.", []string{"Retry-After"}},
}
