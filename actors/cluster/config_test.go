package cluster

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		err  string
	}{
		{"default is one node", Config{}, ""},
		{"etcd", Config{Provider: ProviderEtcd, Advertise: "10.0.0.1:7000"}, ""},
		{"unknown provider", Config{Provider: "consul"}, "cluster_provider must be none, etcd, k8s or automanaged"},
		{"advertise without port", Config{Provider: ProviderEtcd, Advertise: "10.0.0.1"}, "cluster_advertise"},
		{"advertise with a bad port", Config{Provider: ProviderEtcd, Advertise: "10.0.0.1:x"}, "cluster_advertise"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.err)
		})
	}
	require.False(t, Config{}.Enabled())
	require.False(t, Config{Provider: ProviderNone}.Enabled())
	require.True(t, Config{Provider: ProviderK8s}.Enabled())
}
