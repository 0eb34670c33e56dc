//go:build !k8s

package cluster

import (
	"errors"

	pc "github.com/asynkron/protoactor-go/cluster"
)

// newK8sProvider refuses: the Kubernetes provider pulls in client-go (~240 packages, more than
// doubling the binary and the build), so it is compiled only with `-tags k8s`.
func newK8sProvider() (pc.ClusterProvider, error) {
	return nil, errors.New("cluster_provider k8s needs a binary built with -tags k8s " +
		"(go build -tags k8s ./cmd/enricher)")
}
