package api

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A token has exactly one spelling: flipping the unused low bits of either part's last
// base64url character gives the same bytes under lenient decoding, and must be refused.
func TestTokenHasOneSpelling(t *testing.T) {
	s := signer{secret: []byte("0123456789abcdef0123456789abcdef")}
	now := time.Unix(1_700_000_000, 0)
	tok, err := s.sign(accessClaims{UserID: "u1", OrgID: "o1", Expiry: now.Add(time.Hour).Unix()})
	require.NoError(t, err)
	_, ok := s.verify(tok, now)
	require.True(t, ok, "the canonical token is valid")

	payload, sig, _ := strings.Cut(tok, ".")
	tests := []struct {
		name  string
		token string
	}{
		{"signature's unused bits set", payload + "." + flipUnusedBits(t, sig)},
		{"payload's unused bits set", flipUnusedBits(t, payload) + "." + sig},
		{"padding added", tok + "="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NotEqual(t, tok, tt.token, "the variant is another spelling")
			_, ok := s.verify(tt.token, now)
			require.False(t, ok, "a second spelling of a valid token is refused")
		})
	}
}

// flipUnusedBits changes the lowest bit of the last character, which base64 decoding ignores
// when the encoded length leaves bits over. It returns s unchanged when no bits are unused.
func flipUnusedBits(t *testing.T, s string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	unused := map[int]int{2: 4, 3: 2}[len(s)%4] // 2 chars carry 1 byte (4 spare bits), 3 carry 2 (2 spare)
	if unused == 0 {
		return s
	}
	i := strings.IndexByte(alphabet, s[len(s)-1])
	require.GreaterOrEqual(t, i, 0)
	return s[:len(s)-1] + string(alphabet[i^1])
}
