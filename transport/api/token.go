package api

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
)

// accessClaims is the payload of an access token.
type accessClaims struct {
	UserID string `json:"uid"`
	OrgID  string `json:"org"`
	Expiry int64  `json:"exp"` // unix seconds
}

// signer issues and checks access tokens: base64url(payload) "." base64url(HMAC-SHA256).
type signer struct{ secret []byte }

func (s signer) sign(c accessClaims) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + base64.RawURLEncoding.EncodeToString(s.mac(p)), nil
}

func (s signer) mac(p string) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(p))
	return m.Sum(nil)
}

// strictB64 decodes base64url without padding and refuses non-zero unused trailing bits, so a
// token has exactly one spelling.
var strictB64 = base64.RawURLEncoding.Strict()

// verify returns the claims of a token signed by s that has not expired at now. Both parts
// must be canonical base64url: a second spelling of a valid token is refused.
func (s signer) verify(token string, now time.Time) (accessClaims, bool) {
	var c accessClaims
	p, sig, ok := strings.Cut(token, ".")
	if !ok {
		return c, false
	}
	got, err := strictB64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(p)) {
		return c, false
	}
	payload, err := strictB64.DecodeString(p)
	if err != nil || json.Unmarshal(payload, &c) != nil {
		return c, false
	}
	return c, now.Unix() < c.Expiry
}

// base62 is the alphabet of API keys.
const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newAPIKey returns "ent_" + 43 base62 characters carrying 32 random bytes.
func newAPIKey() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	// Encode the 256-bit number in base 62: 43 digits hold it (62^43 > 2^256).
	num := b[:]
	out := make([]byte, 43)
	for i := len(out) - 1; i >= 0; i-- {
		var rem uint
		for j := range num {
			acc := rem<<8 | uint(num[j])
			num[j] = byte(acc / 62)
			rem = acc % 62
		}
		out[i] = base62[rem]
	}
	return "ent_" + string(out)
}

// newOpaqueToken returns a random URL-safe token of 32 bytes (refresh tokens).
func newOpaqueToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// sha256Hex returns the lower-case hex SHA-256 of s: how keys and refresh tokens are stored.
func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
