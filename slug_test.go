package enricher

import (
	"errors"
	"strings"
	"testing"
)

func TestPickSlug(t *testing.T) {
	long := strings.Repeat("a", 50)
	boom := errors.New("store down")
	for _, tt := range []struct {
		name     string
		slug     string
		explicit bool
		taken    []string
		err      error
		want     string
		conflict bool
	}{
		{"free", "acme", false, nil, nil, "acme", false},
		{"suffixed", "acme", false, []string{"acme", "acme-2"}, nil, "acme-3", false},
		{"explicit taken", "acme", true, []string{"acme"}, nil, "", true},
		{"reserved never free", ReservedSlug, false, nil, nil, ReservedSlug + "-2", false},
		{"reserved explicit", ReservedSlug, true, nil, nil, "", true},
		{"cut to 50 with its suffix", long, false, []string{long}, nil, long[:48] + "-2", false},
		{"store error", "acme", false, nil, boom, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PickSlug(tt.slug, tt.explicit, func(s string) (bool, error) {
				if tt.err != nil {
					return false, tt.err
				}
				for _, u := range tt.taken {
					if u == s {
						return true, nil
					}
				}
				return false, nil
			})
			switch {
			case tt.err != nil:
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
			case tt.conflict:
				if !IsKind(err, KindConflict) {
					t.Fatalf("err = %v, want a conflict", err)
				}
			case err != nil || got != tt.want:
				t.Fatalf("PickSlug = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
