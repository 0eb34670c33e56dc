//go:build k8s

package cluster

import (
	pc "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/k8s"
)

// newK8sProvider returns protoactor's Kubernetes provider (members are the pods of the
// deployment, read through the in-cluster API).
func newK8sProvider() (pc.ClusterProvider, error) { return k8s.New() }
