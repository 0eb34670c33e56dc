package enricher

// FetchAuth is how a remote entity list expects to be authenticated: the "auth" object of a
// batch fetch request, given by the client, used by the fetcher for that one request and never
// stored or logged. Type is none (or empty), bearer, api_key or basic; the other fields are the
// credentials of that type.
type FetchAuth struct {
	Type         string `json:"auth_type,omitempty"`
	BearerToken  string `json:"bearer_token,omitempty"`
	APIKeyHeader string `json:"api_key_header,omitempty"`
	APIKeyValue  string `json:"api_key_value,omitempty"`
	Username     string `json:"basic_username,omitempty"`
	Password     string `json:"basic_password,omitempty"`
}
